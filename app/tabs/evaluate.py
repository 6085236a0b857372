from .pending import pending_tab


def create_tab(ctx, blocks, page) -> None:
    pending_tab("Evaluate", "evaluate", "Q-Bench protocols: A1 perception accuracy by question type and concern, "
                "A2 description scored by a judge, A3 SRCC/PLCC of the good/poor score; tables and radar charts.")
