from .pending import pending_tab


def create_tab(ctx, blocks, page) -> None:
    pending_tab("Tune", "tune", "Configure and launch instruction tuning with the paper's strategies (mix, after, "
                "replace), full or LoRA, as a subprocess of `qinstruct train`; watch loss curves; abort and resume.")
