"""`python -m app`: start the studio.  Loopback by default; any other address requires --auth."""
from __future__ import annotations

import argparse
import os
import sys

# Before gradio / huggingface_hub are imported: they read these at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: the chat shares the cores with the jobs

from qinstruct.urlguard import is_loopback  # noqa: E402 - after the defaults above (it imports httpx)


def parse_auth(value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("--auth expects USER:PASSWORD")
    return user, password


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="Start Q-Instruct Studio.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--workspace", default=None, help="workspace folder (default ./workspace or $QINSTRUCT_HOME)")
    parser.add_argument("--auth", type=parse_auth, action="append", default=None, metavar="USER:PASSWORD",
                        help="require a login (repeatable); mandatory for a non-loopback --host")
    parser.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                        help="a folder (besides the workspace) whose data browser users may read (repeatable)")
    parser.add_argument("--models-dir", action="append", default=[], metavar="DIR",
                        help="a folder (besides the workspace's models/ and runs/) of models users may load")
    parser.add_argument("--trust-remote-code", action="append", default=[], metavar="SPEC",
                        help="a model spec allowed to run the code shipped with it (repeatable; off for all others)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="URL",
                        help="an OpenAI-compatible base URL that may receive the server's OPENAI_API_KEY (besides "
                        "$OPENAI_BASE_URL or OpenAI); users' typed keys go only with their own requests")
    parser.add_argument("--allow-url", action="append", default=[], metavar="URL",
                        help="a URL users may reach although it is on an internal address (a local vLLM, say); "
                        "without it a URL a user types reaches public addresses only (the server's key never "
                        "goes there: that is --endpoint)")
    parser.add_argument("--endpoints-only", action="store_true",
                        help="users may reach only the --endpoint URLs (and $OPENAI_BASE_URL or OpenAI): the server "
                        "makes no request to a URL a user types")
    parser.add_argument("--max-jobs", type=int, default=None, metavar="N",
                        help="long jobs (trainings, evaluations, batches) running at once in the workspace, those "
                        "started from a shell included; more wait as queued (default: half the cores, at least 1)")
    parser.add_argument("--max-jobs-per-user", type=int, default=None, metavar="N",
                        help="a logged-in user's jobs running at once (default: half of --max-jobs, at least 1)")
    parser.add_argument("--max-queued-per-user", type=int, default=4, metavar="N",
                        help="a logged-in user's jobs waiting at once; more are refused (default 4)")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                        help="a reverse proxy (address or network) whose X-Forwarded-For names the client (for "
                        "the login throttle); without it the connection's address counts")
    parser.add_argument("--ssl-keyfile", default=None)
    parser.add_argument("--ssl-certfile", default=None)
    return parser.parse_args(argv)


def ensure_demo_world(workspace) -> None:
    """First start: build the embedded demo world into the workspace (about 10 s on 2 cores)."""
    from qinstruct.demo.world import ensure_world
    from qinstruct.workspace import world_ready

    if world_ready(workspace.demo_world):
        return
    print(f"building the embedded demo world in {workspace.demo_world} (first start only)…", flush=True)

    def progress(done: int, total: int) -> None:
        if done == total or done % 500 == 0:
            print(f"  {done}/{total} images", flush=True)

    ensure_world(workspace.demo_world, progress=progress)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not is_loopback(args.host) and not args.auth:
        print(f"refusing to serve on {args.host} without --auth USER:PASSWORD (anyone on the network could use "
              "the studio); bind 127.0.0.1 or add --auth", file=sys.stderr)
        return 2
    for flag, value in (("--max-jobs", args.max_jobs), ("--max-jobs-per-user", args.max_jobs_per_user),
                        ("--max-queued-per-user", args.max_queued_per_user)):
        if value is not None and not 1 <= value <= 64:
            print(f"{flag} expects a number from 1 to 64", file=sys.stderr)
            return 2
    from .serving import proxy_networks

    try:
        proxies = proxy_networks(args.trusted_proxy)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    from qinstruct.access import AccessPolicy, install_process_policy
    from qinstruct.workspace import Workspace

    from .main import build, launch_kwargs

    workspace = Workspace.open(args.workspace)
    ensure_demo_world(workspace)
    try:
        access = AccessPolicy.for_studio(workspace.root, args.allow_dir, args.models_dir, args.trust_remote_code,
                                         args.endpoint, args.endpoints_only, args.allow_url)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    install_process_policy(access)  # whatever loads a model or reads a data file in this process obeys it
    limits = {"per_user": args.max_jobs_per_user, "queued_per_user": args.max_queued_per_user}
    blocks = build(workspace, access, args.max_jobs, logins=bool(args.auth), **limits)
    blocks.queue(default_concurrency_limit=2)
    print(f"Q-Instruct Studio on http://{args.host}:{args.port}  (workspace {workspace.root})", flush=True)
    blocks.launch(server_name=args.host, server_port=args.port, auth=args.auth, quiet=True,
                  ssl_keyfile=args.ssl_keyfile, ssl_certfile=args.ssl_certfile,
                  **launch_kwargs(workspace, blocks, proxies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
