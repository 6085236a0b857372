from .pending import pending_tab


def create_tab(ctx, blocks) -> None:
    pending_tab("Statistics", "stats", "Load the demo world or your Q-Pathway / MOS files; filter by source and MOS; "
                "see Table 1 (size, mean and std of MOS per source, original vs MOS-balanced sample), feedback length "
                "histogram, word cloud and top low-level words (Fig. 3); export PNG, CSV and a Markdown report.")
