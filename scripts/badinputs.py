"""Run the bad-input corpus against the CLI and a running studio; print "N tried, N clean, 0 tracebacks, 0 wrong,
0 crashes".

    .venv/bin/python -m scripts.badinputs [--json report.json] [--only SUBSTRING]...

The corpus is written by tests/badinputs/corpus.py into a temporary folder; the cases are in
tests/badinputs/cases.py (CLI) and studio_cases.py (studio). CLI cases call the `qinstruct` entry point
(`qinstruct.cli.main`) in this process with its output captured; API cases drive a studio started as a user would
(`python -m app`, its own process) through gradio_client, logged in as one of its two users (a and c), each in their
own namespace (users/a/, users/c/), and check after each one that the studio still serves; a case that starts a job
follows it through the tab's watch route until it ends. The studio lists the fault server ({URL}) and one dead port
({DOWN}) with --allow-url, as an operator lists a local vLLM; {DEAD}, another dead port, is not listed, and neither
is the fault server under another name (localhost:{PORT}). A case is clean when it ends with the expected exit
status or answer, its message says what went wrong, no traceback is printed and no temporary file is left behind; it
is *wrong* when something that should have been refused was accepted: an answer without its refusal, what one user
must not see in another's answer (`absent`), a request the fault server received from a case marked `unheard`. Exit
status 0 when every case is clean.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("GRADIO_ANALYTICS_ENABLED", "False")):
    os.environ.setdefault(name, value)

from tests.badinputs import cases, corpus, endpoint, studio_cases  # noqa: E402
from tests.helpers.openai_server import openai_server  # noqa: E402
from tests.helpers.studio import free_port, serving, studio_process  # noqa: E402


@dataclass
class Outcome:
    name: str
    where: str  # cli | api
    clean: bool
    traceback: bool = False
    crash: bool = False
    wrong: bool = False  # accepted where a refusal was expected
    detail: str = ""


def fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_cli(case: cases.Cli, places: dict[str, str]) -> Outcome:
    from qinstruct.cli import main

    out_dir = Path(places["WORK"]) / f"out-{abs(hash(case.name))}"
    argv = [fill(part, {**places, "O": str(out_dir)}) for part in case.argv]
    captured = io.StringIO()
    crashed = None
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        try:
            code = main(argv)
        except BaseException:  # noqa: BLE001 - anything escaping the entry point is what we count
            code, crashed = None, traceback.format_exc()
    text = captured.getvalue()
    leftovers = [str(p) for p in out_dir.rglob(".*.tmp")] if out_dir.exists() else []
    problems = []
    if crashed or "Traceback (most recent call last)" in text:
        problems.append("traceback")
    wrong = (code == 0 and 0 not in case.codes) or bool(case.absent and fill(case.absent, places) in text)
    if code not in case.codes:
        problems.append(f"exit {code}, expected {case.codes}")
    if fill(case.message, places) not in text:
        problems.append(f"message {case.message!r} missing")
    if case.absent and fill(case.absent, places) in text:
        problems.append(f"{case.absent!r} printed")
    if leftovers:
        problems.append(f"temporary files left: {leftovers[:3]}")
    detail = "; ".join(problems) + ("\n" + (crashed or text)[-1500:] if problems else "")
    return Outcome(case.name, "cli", not problems, traceback="traceback" in problems, wrong=wrong, detail=detail)


def _arguments(kwargs: dict, places: dict[str, str]):
    from gradio_client import handle_file

    def one(value):
        if isinstance(value, str) and value.startswith("file:"):
            return handle_file(fill(value[len("file:"):], places))
        if isinstance(value, str):
            return fill(value, places)
        if isinstance(value, list):
            return [one(v) for v in value]
        return value
    return {k: one(v) for k, v in kwargs.items()}


ENDED = (": done", ": failed", ": aborted", ": interrupted")


def follow(client, route: tuple[str, dict], places: dict[str, str], timeout: float = 300) -> str:
    """A job a case started, watched through the tab's route until it has ended; its last view."""
    api_name, kwargs = route
    deadline, shown = time.time() + timeout, ""
    while time.time() < deadline:
        shown = str(client.predict(**_arguments(kwargs, places), api_name=api_name))
        if any(state in shown for state in ENDED):
            return shown
        time.sleep(0.3)
    return shown + " (still running after the case's timeout)"


def refused(answer) -> bool:
    """The tab said no: one of its outputs is a "⚠ ..." line (app/forms.py)."""
    from app.forms import ERROR_MARK

    values = answer if isinstance(answer, (list, tuple)) else [answer]
    return any(isinstance(value, str) and value.startswith(ERROR_MARK) for value in values)


def run_api(case: cases.Api, client, url: str, places: dict[str, str], heard: list | None = None) -> Outcome:
    """One API case; `heard`: the requests the fault server ({URL}) received so far (a case marked `unheard`
    must add none: the studio must not reach it through an address its operator did not list)."""
    problems, answer, error = [], None, None
    before = len(heard) if heard is not None else 0
    try:
        answer = client.predict(**_arguments(case.kwargs, places), api_name=case.api_name)
    except Exception as failure:  # noqa: BLE001 - an error shown on the tab is the expected outcome of some cases
        error = str(failure)
    text = json.dumps(answer, default=str) if answer is not None else (error or "")
    if case.then is not None and error is None:
        text += "\n" + follow(client, case.then, places)
    if "Traceback" in text:
        problems.append("traceback")
    if case.expect in ("ok", "refused") and error is not None:
        problems.append(f"error: {error[:300]}")
    accepted = (case.expect == "error" and error is None) or (case.expect == "refused" and not refused(answer))
    if accepted:
        problems.append("accepted, expected a refusal" if case.expect == "refused" else
                        "accepted, expected an error message")
    if case.message and fill(case.message, places) not in text:
        problems.append(f"message {case.message!r} missing in {text[:300]!r}")
    if case.absent and fill(case.absent, places) in text:
        problems.append(f"{case.absent!r} shown to user {case.user}: {text[:300]!r}")
    reached = case.unheard and heard is not None and len(heard) > before
    if reached:
        problems.append(f"the fault server received {len(heard) - before} request(s)")
    alive = serving(url)
    if not alive:
        problems.append("the studio stopped serving")
    wrong = accepted or reached or any(p.startswith(repr(case.absent)) for p in problems)
    return Outcome(case.name, "api", not problems, traceback="traceback" in problems, crash=not alive,
                   wrong=wrong, detail="; ".join(problems))


def run(only: str | list[str] | None = None) -> list[Outcome]:
    """Every case (or those whose name holds one of the `only` substrings), in the corpus's order."""
    from gradio_client import Client

    wanted = [only] if isinstance(only, str) else list(only or [])

    def chosen(name: str) -> bool:
        return not wanted or any(part in name for part in wanted)

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="badinputs-") as tmp, openai_server(endpoint.respond) as (url, heard):
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # the fault server drops connections on purpose
        tmp = Path(tmp)
        corpus.build(tmp / "corpus")
        places = {"I": str(tmp / "corpus" / "images"), "D": str(tmp / "corpus" / "data"),
                  "C": str(tmp / "corpus" / "configs"), "M": str(tmp / "corpus" / "models"),
                  "R": str(tmp / "corpus" / "runs"), "WS": str(tmp / "corpus" / "workspace"),
                  "ASSETS": str(ROOT / "assets" / "models"), "W": str(tmp / "work" / "shared"), "URL": url,
                  "PORT": url.rsplit(":", 1)[1].split("/")[0], "DEAD": f"http://127.0.0.1:{free_port()}/v1",
                  "DOWN": f"http://127.0.0.1:{free_port()}/v1", "WORK": str(tmp / "work")}
        for case in cases.CLI_CASES:
            if chosen(case.name):
                outcomes.append(run_cli(case, places))
        api = [case for case in studio_cases.API_CASES if chosen(case.name)]
        if api:
            # the fault server and {DOWN} are internal addresses the operator lists (--allow-url): the studio
            # reaches them; {DEAD}, or the fault server under another name (localhost:{PORT}), it must not
            listed = [arg for address in (url, places["DOWN"]) for arg in ("--allow-url", address.rsplit("/", 1)[0])]
            with studio_process(tmp / "workspace", "--allow-dir", str(tmp / "corpus"), "--auth", "a:b", "--auth",
                                "c:d", "--max-jobs", "2", *listed) as (studio_url, process):
                clients = {"a": Client(studio_url, auth=("a", "b"), verbose=False),
                           "c": Client(studio_url, auth=("c", "d"), verbose=False)}
                places["WSROOT"] = str(tmp / "workspace")
                for case in api:
                    outcomes.append(run_api(case, clients[case.user], studio_url, places, heard))
                if process.poll() is not None:
                    outcomes.append(Outcome("studio process", "api", False, crash=True, detail="exited"))
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    return (f"{len(outcomes)} tried, {sum(o.clean for o in outcomes)} clean, {sum(o.traceback for o in outcomes)} "
            f"tracebacks, {sum(o.wrong for o in outcomes)} wrong, {sum(o.crash for o in outcomes)} crashes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write every case's outcome to this file")
    parser.add_argument("--only", action="append", help="only the cases whose name contains this (repeatable: "
                        "those whose name contains any of them)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    outcomes = run(args.only)
    for outcome in outcomes:
        if not outcome.clean:
            print(f"NOT CLEAN [{outcome.where}] {outcome.name}: {outcome.detail}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    print(f"{summary(outcomes)} ({time.perf_counter() - started:.0f} s)")
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
