"""The project's user-facing errors: each message is one line a user can act on (what, where, what to do).

The CLI prints them as `error: MESSAGE` with the class's exit status, and the studio shows them on the tab;
anything else escaping is a bug, reported with a traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input, a missing file, a model that cannot load...: the user can fix it."""

    exit_code = 2


def first_line(error: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (an API error's own message when it has one), for a one-line
    report: libraries raise multi-line messages a user does not need."""
    text = (getattr(error, "message", None) or str(error)).strip().splitlines()
    return text[0][:limit] if text and text[0] else type(error).__name__
