"""How a tab's handler reports a user error: one line in its status output, the other outputs left as they were
(gr.skip()), or an Error toast where a handler has no status output."""
import gradio as gr
import pytest

from app.forms import reports_errors
from qinstruct.errors import UserError


def refuses(what: str):
    raise UserError(f"{what}: expected a value > 0")


@reports_errors(line=1, outputs=3)
def start(value):
    if value is None:
        raise gr.Error("Choose a model first.")  # the handler's own gr.Error goes to the line too
    if value <= 0:
        refuses("steps")
    return "gallery", f"started {value}", "folder"


@reports_errors(line=0, outputs=2)
def stream(value):
    yield "streaming…", "partial"
    if value < 0:
        refuses("image")
    yield "done", "whole"


def test_a_user_error_is_one_line_and_the_other_outputs_are_left_as_they_were():
    assert start(3) == ("gallery", "started 3", "folder")
    gallery, line, folder = start(0)
    assert line == "⚠ steps: expected a value > 0" and gallery == folder == gr.skip()
    assert start(None)[1] == "⚠ Choose a model first."


def test_a_streaming_handler_ends_with_its_line_after_what_it_streamed():
    assert list(stream(1)) == [("streaming…", "partial"), ("done", "whole")]
    *streamed, last = stream(-1)
    assert streamed == [("streaming…", "partial")] and last == ("⚠ image: expected a value > 0", gr.skip())


def test_one_output_is_the_line_itself_and_without_a_line_the_error_is_raised():
    assert reports_errors(line=0)(lambda: refuses("name"))() == "⚠ name: expected a value > 0"
    with pytest.raises(gr.Error, match="name: expected"):
        reports_errors(lambda: refuses("name"))()


def test_programming_errors_are_not_turned_into_messages():
    def broken():
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        reports_errors(line=0)(broken)()
