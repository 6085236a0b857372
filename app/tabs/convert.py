from .pending import pending_tab


def create_tab(ctx, blocks) -> None:
    pending_tab("Convert", "convert", "Turn pathway feedbacks into instruction data (pathway, yes/no, what/how in "
                "multiple-choice and direct form, context questions, extended conversations) with the offline "
                "converter or any OpenAI-compatible model; preview prompt, response and validation; run resumable "
                "batches with a cost estimate; export LLaVA, LLaMA-Factory and TRL formats.")
