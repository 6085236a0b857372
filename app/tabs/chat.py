from .pending import pending_tab


def create_tab(ctx, blocks) -> None:
    pending_tab("Chat", "chat", "One image, one question, two answers streaming side by side (baseline vs tuned), "
                "each with its quality rating (P(good) and the 5-level score); blind A/B voting with a vote log.")
