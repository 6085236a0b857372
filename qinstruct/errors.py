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


def stop_on_terminate() -> None:
    """SIGTERM (an Abort) ends the job like Ctrl-C: the run folder records it as aborted, and it resumes."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt("aborted")
    signal.signal(signal.SIGTERM, stop)


def exit_status(call) -> int:
    """Run a verb or a job (`call()` returns its exit status) and turn what it raises into a line on stderr and
    an exit status: a UserError its own, Ctrl-C or an abort 130, a refusal of the machine (full disk,
    permission) 2."""
    import sys

    try:
        return int(call() or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except OSError as error:  # the machine said no (a full disk, a permission, a vanished file): one line, not a trace
        where = getattr(error, "filename", None)
        print(f"error: {where + ': ' if where else ''}{error.strerror or error}", file=sys.stderr)
        return 2
