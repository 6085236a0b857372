"""A tab whose issue has not landed: says plainly what it will do, shows no fake output."""
from __future__ import annotations

import gradio as gr


def pending_tab(title: str, tab_id: str, plan: str) -> None:
    with gr.Tab(title, id=tab_id):
        gr.Markdown(f"### {title}: not built yet\n\n{plan}\n\nNothing on this tab runs yet.",
                    elem_classes=["qi-pending"])
