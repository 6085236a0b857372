"""Serving the studio safely: with --auth, every route requires the login, a user's files are theirs, and
guessing passwords is slow.

Gradio checks the login on its API and file routes, but its page `/` embeds the app's full API description
(server paths in every example value) for anyone, and some routes (`cancel`, `reset`, `heartbeat`) answer
without a login.  `LoginWall` sits in front of every route: without a valid login cookie only the login form
and the login request get through; everything else answers 401.  Logged in, Gradio's file route serves a user
only what their access policy reads (their namespace, the shared demo world and models/), and never fetches a
URL.  Failed logins are counted per (user, address) for the studio's users, and per address for names that are
no user: past a few, that user at that address (or that address, for unknown names) waits, doubling each time,
before any login is even checked -- so a stranger guessing names locks no user out.  The counts outlive a
restart.  The client's address is the connection's, or `X-Forwarded-For`'s when the connection comes from a
proxy the operator named.
"""
from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import cookie_parser

from qinstruct.fileio import write_json

# the login form's request, and the start-up ping Gradio's launch() sends itself (it only starts the queue once)
OPEN_PATHS = {"/login", "/login/", "/favicon.ico", "/gradio_api/startup-events"}
LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Q-Instruct Studio: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; background: #f6f7f9; display: grid; place-items: center;
        min-height: 100vh; margin: 0; }
 form { background: white; padding: 2em 2.5em; border-radius: 12px; box-shadow: 0 2px 12px #0002;
        display: grid; gap: .8em; min-width: 18em; }
 h1 { font-size: 1.25em; margin: 0 0 .4em; }
 input, button { font-size: 1em; padding: .55em .7em; border-radius: 6px; border: 1px solid #ccd; }
 button { background: #ea580c; color: white; border: none; cursor: pointer; }
 #error { color: #b91c1c; min-height: 1.2em; font-size: .9em; }
</style></head>
<body><form id="login">
 <h1>Q-Instruct Studio</h1>
 <input name="username" placeholder="user" autocomplete="username" required autofocus>
 <input name="password" type="password" placeholder="password" autocomplete="current-password" required>
 <button type="submit">Log in</button><div id="error"></div>
</form>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("login", {method: "POST", body: new URLSearchParams(new FormData(event.target)),
                                         credentials: "include"});
  if (response.ok) { window.location.reload(); }
  else if (response.status === 429) {
    document.getElementById("error").textContent = (await response.json()).detail;
  } else { document.getElementById("error").textContent = "Wrong user or password."; }
});
</script></body></html>"""


class LoginThrottle:
    """Failed logins per key -- ("user", USER, ADDRESS) for a known user, ("address", ADDRESS) for a name that is
    no user -- after `free` failures, each further attempt waits 2, 4, 8 ... seconds (at most `longest_s`) after
    the last failure; a success clears that user's count at that address.  With `path`, the counts are kept in
    that file (wall-clock times), so a restart forgets nothing."""

    def __init__(self, free_per_user: int = 5, free_per_address: int = 20, longest_s: float = 900.0,
                 path: Path | None = None):
        self.free = {"user": free_per_user, "address": free_per_address}
        self.longest_s = longest_s
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._failures: dict[tuple, tuple[int, float]] = self._load()  # key -> (failures, time of the last)

    @staticmethod
    def _key(user: str, address: str, known: bool) -> tuple:
        return ("user", user, address) if known else ("address", address)

    def wait_s(self, user: str, address: str, now: float | None = None, known: bool = True) -> float:
        """How long this user at this address must still wait before a login is checked (0: not at all);
        `known`: whether the name is one of the studio's users."""
        now = time.time() if now is None else now
        key = self._key(user, address, known)
        with self._lock:
            failures, last = self._failures.get(key, (0, 0.0))
        free = self.free[key[0]]
        if failures < free:
            return 0.0
        return max(0.0, last + min(2.0 ** (failures - free + 1), self.longest_s) - now)

    def record(self, user: str, address: str, succeeded: bool, now: float | None = None, known: bool = True) -> None:
        now = time.time() if now is None else now
        key = self._key(user, address, known)
        with self._lock:
            if succeeded:
                if key[0] == "user":  # a success clears that user's count there, never an address's
                    self._failures.pop(key, None)
            else:
                self._failures[key] = (self._failures.get(key, (0, 0.0))[0] + 1, now)
            self._forget_old(now)
            self._save()

    def _forget_old(self, now: float) -> None:
        """Counts whose last failure is long past are dropped (the file stays small)."""
        stale = [key for key, (_, last) in self._failures.items() if now - last > 4 * self.longest_s]
        for key in stale:
            del self._failures[key]

    def _load(self) -> dict:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {tuple(row["key"]): (int(row["failures"]), float(row["last"])) for row in rows}
        except (OSError, ValueError, TypeError, KeyError):
            return {}  # an unreadable file starts the counts afresh; it is rewritten at the next failure

    def _save(self) -> None:
        if self.path is not None:
            write_json(self.path, [{"key": list(key), "failures": n, "last": last}
                                   for key, (n, last) in self._failures.items()])


def client_address(scope, trusted_proxies: tuple = ()) -> str:
    """The address a request comes from: the connection's, or -- only when the connection is one of the proxies
    the operator named -- the nearest address in X-Forwarded-For that is no trusted proxy."""
    address = (scope.get("client") or ("?", 0))[0]
    if not trusted_proxies or not _in_networks(address, trusted_proxies):
        return address
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"x-forwarded-for"]
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted_proxies):
            return hop
    return address


def _in_networks(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def proxy_networks(values: list[str]) -> tuple:
    """--trusted-proxy values (an address or a network) as networks; raises ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {value}: not an IP address or network") from None
    return tuple(networks)


FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/", "/file=", "/file/")
NEVER_SERVED = ("/gradio_api/proxy=",)  # Gradio's reverse proxy to Hugging Face Spaces: the studio has no use


class LoginWall:
    """ASGI middleware: `blocks` is the Gradio app being served (its login tokens live on `blocks.app`);
    `readable(user, path)` says whether a logged-in user may fetch a file (None: Gradio's own rules only)."""

    def __init__(self, app, blocks, throttle: LoginThrottle | None = None,
                 readable: Callable[[str, Path], bool] | None = None, trusted_proxies: tuple = ()):
        self.app = app
        self.blocks = blocks
        self.throttle = throttle or LoginThrottle()
        self.readable = readable
        self.trusted_proxies = trusted_proxies

    def _server(self):
        return getattr(self.blocks, "server_app", None) or getattr(self.blocks, "app", None)

    def _login(self, scope) -> tuple[bool, str | None]:
        """(whether the request may pass, the logged-in user: None without logins)."""
        server = self._server()
        if server is None or getattr(server, "auth", None) is None:
            return True, None  # no login configured (loopback without --auth)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":  # lenient parsing, as Starlette's: one odd cookie must not hide the others
                cookies.update(cookie_parser(value.decode("latin-1")))
        for name in (f"access-token-{server.cookie_id}", f"access-token-unsecure-{server.cookie_id}"):
            user = server.tokens.get(cookies.get(name))
            if user is not None:
                return True, user
        return False, None

    def is_user(self, name: str) -> bool:
        """Whether a login name is one of the studio's users (its --auth list)."""
        auth = getattr(self._server(), "auth", None)
        return not isinstance(auth, dict) or name in auth

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "/")
        root = (scope.get("root_path") or "").rstrip("/")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        if path in ("/login", "/login/") and scope.get("method") == "POST":  # logged in or not: a guess is a guess
            return await self._checked_login(scope, receive, send)
        allowed, user = self._login(scope)
        if allowed:
            if path.startswith(NEVER_SERVED) or (user is not None and not self._file_allowed(user, path)):
                return await _respond(send, 403, "application/json", b'{"detail": "File not allowed."}')
            return await self.app(scope, receive, send)
        if path in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        if path == "/" and scope.get("method") in ("GET", "HEAD"):
            return await _respond(send, 200, "text/html; charset=utf-8", LOGIN_PAGE.encode())
        body = json.dumps({"detail": "Not authenticated"}).encode()
        return await _respond(send, 401, "application/json", body)

    def _file_allowed(self, user: str, path: str) -> bool:
        """A logged-in user's file request: never a URL (the server would fetch it), and only what their policy
        reads -- the path as written and where it leads (a link) both."""
        prefix = next((p for p in FILE_ROUTES if path.startswith(p)), None)
        if prefix is None or self.readable is None:
            return True
        target = path[len(prefix):]
        if "://" in target or target.startswith("//"):
            return False
        written = Path(os.path.normpath(target if Path(target).is_absolute() else Path.cwd() / target))
        return all(self.readable(user, candidate) for candidate in (written, written.resolve()))

    async def _checked_login(self, scope, receive, send):
        """The login request, throttled: the form is read here (and handed on unchanged), the answer watched.  The
        name counted is the one Gradio checks: a form of one username, stripped -- any other body (several
        usernames, multipart) is refused, so no spelling of a user's name counts as an unknown name."""
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        user = _login_name(dict(scope.get("headers", [])).get(b"content-type", b""), body)
        if user is None:
            return await _respond(send, 400, "application/json",
                                  b'{"detail": "A login is a form with one username and one password."}')
        address, known = client_address(scope, self.trusted_proxies), self.is_user(user)
        wait = self.throttle.wait_s(user, address, known=known)
        if wait > 0:
            detail = f"Too many failed logins: try again in {wait:.0f} s."
            return await _respond(send, 429, "application/json", json.dumps({"detail": detail}).encode(),
                                  [(b"retry-after", str(int(wait) + 1).encode())])
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message):
            if message["type"] == "http.response.start":
                self.throttle.record(user, address, succeeded=200 <= message["status"] < 300, known=known)
            await send(message)

        return await self.app(scope, replay, watch)


def _login_name(content_type: bytes, body: bytes) -> str | None:
    """The user name a login form names, as Gradio reads it (stripped); None for a body that is not a URL-encoded
    form with exactly one username (Gradio would read another name from it than a throttle could)."""
    if content_type.split(b";")[0].strip().lower() != b"application/x-www-form-urlencoded":
        return None
    names = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("username") or [""]
    return names[0].strip()[:200] if len(names) == 1 else None


async def _respond(send, status: int, content_type: str, body: bytes, headers: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
