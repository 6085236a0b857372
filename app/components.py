"""Components the studio needs beyond Gradio's own: an image box that says what is wrong with a bad upload."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from qinstruct.images import ImageInputError, read_image

from .forms import ERROR_MARK


class CheckedImage(gr.Image):
    """gr.Image whose uploads are read by the project's own image reader first: an empty file, a text or HTML
    file, a header claiming billions of pixels or a PNG with a text-chunk bomb is refused with one line naming
    the file and the reason (Gradio's own message is "Could not preprocess input component")."""

    is_template = True  # the browser side is gr.Image's

    def preprocess(self, payload):
        if payload is not None and getattr(payload, "path", None) and not str(payload.url or "").startswith("data:"):
            name = payload.orig_name or Path(payload.path).name
            if (problem := upload_problem(payload.path, name)) is not None:
                raise gr.Error(problem, print_exception=False)
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - any other failure of Gradio's reader, said in one line
            raise gr.Error(f"the uploaded image cannot be read ({error})", print_exception=False) from None


def forget_demo_photo():
    """An uploaded image is no longer the demo photo the dropdown names: the dropdown goes blank."""
    return gr.Dropdown(value=None)


def upload_problem(path: str, name: str) -> str | None:
    """What is wrong with an uploaded file, in one line naming it, or None when it reads as an image."""
    try:
        read_image(path)
    except ImageInputError as error:
        return f"{name}: {str(error).split(': ', 1)[-1]}"
    return None


def check_upload(payload, line: str | None):
    """At upload time, not at the next click: a file that is no image (a text file named .png; empty, truncated,
    over the megapixel limit) leaves the box empty and says why on the tab's status line, which keeps
    everything else (the conversation, the grid) as it was.  Wired with preprocess=False, so that Gradio's own
    reader never sees the file: `payload` is the upload's FileData as a dict, `line` the status line's text."""
    path = (payload or {}).get("path") if isinstance(payload, dict) else None
    if not path:
        return gr.skip(), gr.skip()
    problem = upload_problem(path, payload.get("orig_name") or Path(path).name)
    if problem is not None:
        return None, ERROR_MARK + problem
    stale = isinstance(line, str) and line.startswith(ERROR_MARK)  # the last upload's complaint, now answered
    return gr.skip(), ("" if stale else gr.skip())


def checked_uploads(image: gr.Image, status: gr.components.Component) -> None:
    """Wires check_upload to an image box: the refusal goes to `status`, the tab's one-line message."""
    image.upload(check_upload, [image, status], [image, status], preprocess=False, api_name=False, queue=False)
