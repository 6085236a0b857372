"""The project's user-facing errors: each message is one line a user can act on (what, where, what to do).

The CLI prints them as `error: MESSAGE` with the class's exit status, and the studio shows them on the tab;
anything else escaping is a bug, reported with a traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input, a missing file, a model that cannot load...: the user can fix it."""

    exit_code = 2
