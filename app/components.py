"""Components the studio needs beyond Gradio's own: an image box that says what is wrong with a bad upload."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from qinstruct.images import ImageInputError, read_image


class CheckedImage(gr.Image):
    """gr.Image whose uploads are read by the project's own image reader first: an empty file, a text or HTML
    file, a header claiming billions of pixels or a PNG with a text-chunk bomb is refused with one line naming
    the file and the reason (Gradio's own message is "Could not preprocess input component")."""

    is_template = True  # the browser side is gr.Image's

    def preprocess(self, payload):
        if payload is not None and getattr(payload, "path", None) and not str(payload.url or "").startswith("data:"):
            name = payload.orig_name or Path(payload.path).name
            try:
                read_image(payload.path)
            except ImageInputError as error:
                raise gr.Error(f"{name}: {str(error).split(': ', 1)[-1]}", print_exception=False) from None
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - any other failure of Gradio's reader, said in one line
            raise gr.Error(f"the uploaded image cannot be read ({error})", print_exception=False) from None


def forget_demo_photo():
    """An uploaded image is no longer the demo photo the dropdown names: the dropdown goes blank."""
    return gr.Dropdown(value=None)
