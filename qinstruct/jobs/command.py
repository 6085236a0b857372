"""`qinstruct runs`: the operator's view of every run under a workspace (the studio's users' and the shell's), and
`qinstruct runs abort RUN` to stop one."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from ..errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("runs", help="list the runs (trainings, evaluations, batches, conversions, worlds) "
                                   "under a workspace, or abort one")
    parser.add_argument("action", nargs="?", choices=["list", "abort"], default="list",
                        help="list (default) or abort RUN")
    parser.add_argument("run", nargs="?", help="the run to abort: its folder, or its name under the workspace")
    parser.add_argument("--workspace", default=None, help="the workspace (default ./workspace or $QINSTRUCT_HOME)")
    parser.add_argument("--kind", default=None, help="only this kind (train, eval-a1, corrupt, convert, ...)")
    parser.add_argument("--owner", default=None, help="only the runs of this studio user")
    parser.add_argument("--json", action="store_true", help="print a JSON list of the status files")
    parser.set_defaults(func=_command)


def _workspace(args) -> Path:
    from ..workspace import default_workspace

    root = Path(args.workspace) if args.workspace else default_workspace()
    if not root.is_dir():
        raise UserError(f"{root}: no such workspace folder")
    return root


def find_run(root: Path, name: str) -> Path:
    """A run by its folder, or by its name anywhere under the workspace (ambiguous names are refused)."""
    from ..runs import list_runs

    path = Path(name)
    if (path / "status.json").is_file():
        return path
    matches = [status.path for status in list_runs(root) if status.name == name]
    if len(matches) != 1:
        raise UserError(f"{name}: no such run under {root}" if not matches else
                        f"{name}: several runs have this name ({', '.join(str(m) for m in matches)}); give its folder")
    return matches[0]


def _command(args) -> int:
    from ..runs import describe, list_runs

    root = _workspace(args)
    if args.action == "abort":
        from .launcher import abort

        if not args.run:
            raise UserError("runs abort: name the run to abort")
        print(abort(find_run(root, args.run)))
        return 0
    problems: list = []
    runs = [r for r in list_runs(root, args.kind, problems=problems) if args.owner is None or r.owner == args.owner]
    for folder, reason in problems:
        print(f"skipped {folder}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps([{**dataclasses.asdict(r), "path": str(r.path)} for r in runs]))
    else:
        for status in runs:
            owner = status.owner or "operator"
            print(f"{status.kind:12s} {owner:10s} {describe(status)}  [{status.path}]")
    return 0
