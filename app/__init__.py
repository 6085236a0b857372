"""The Gradio studio: one tab per job of qinstruct, arranged by app.main.build()."""
