"""Serving the studio safely: with --auth, every route requires the login, and guessing passwords is slow.

Gradio checks the login on its API and file routes, but its page `/` embeds the app's full API description
(server paths in every example value) for anyone, and some routes (`cancel`, `reset`, `heartbeat`) answer
without a login.  `LoginWall` sits in front of every route: without a valid login cookie only the login form
and the login request get through; everything else answers 401.  Failed logins are counted per user and
address and per address: past a few, that user (or that address) waits, doubling each time, before any login
is even checked -- the right password included.
"""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs

from starlette.requests import cookie_parser

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
    """Failed logins per key (a user at an address; an address): after `free` failures, each further attempt
    waits 2, 4, 8 ... seconds (at most `longest`) after the last failure; a success clears the user's count."""

    def __init__(self, free_per_user: int = 5, free_per_address: int = 20, longest_s: float = 900.0):
        self.free = {"user": free_per_user, "address": free_per_address}
        self.longest_s = longest_s
        self._failures: dict[tuple, tuple[int, float]] = {}  # key -> (failures, time of the last)
        self._lock = threading.Lock()

    def _keys(self, user: str, address: str) -> list[tuple[str, tuple]]:
        return [("user", ("user", user, address)), ("address", ("address", address))]

    def wait_s(self, user: str, address: str, now: float | None = None) -> float:
        """How long this user at this address must still wait before a login is checked (0: not at all)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = []
            for kind, key in self._keys(user, address):
                failures, last = self._failures.get(key, (0, 0.0))
                if failures >= self.free[kind]:
                    waits.append(last + min(2.0 ** (failures - self.free[kind] + 1), self.longest_s) - now)
            return max([0.0, *waits])

    def record(self, user: str, address: str, succeeded: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for kind, key in self._keys(user, address):
                if succeeded and kind == "user":
                    self._failures.pop(key, None)
                elif not succeeded:
                    self._failures[key] = (self._failures.get(key, (0, 0.0))[0] + 1, now)


class LoginWall:
    """ASGI middleware: `blocks` is the Gradio app being served (its login tokens live on `blocks.app`)."""

    def __init__(self, app, blocks, throttle: LoginThrottle | None = None):
        self.app = app
        self.blocks = blocks
        self.throttle = throttle or LoginThrottle()

    def _logged_in(self, scope) -> bool:
        server = getattr(self.blocks, "server_app", None) or getattr(self.blocks, "app", None)
        if server is None or getattr(server, "auth", None) is None:
            return True  # no login configured (loopback without --auth)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":  # lenient parsing, as Starlette's: one odd cookie must not hide the others
                cookies.update(cookie_parser(value.decode("latin-1")))
        return any(cookies.get(name) in server.tokens
                   for name in (f"access-token-{server.cookie_id}", f"access-token-unsecure-{server.cookie_id}"))

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or self._logged_in(scope):
            return await self.app(scope, receive, send)
        path = scope.get("path", "/")
        root = (scope.get("root_path") or "").rstrip("/")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        if path in ("/login", "/login/") and scope.get("method") == "POST":
            return await self._login(scope, receive, send)
        if path in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        if path == "/" and scope.get("method") in ("GET", "HEAD"):
            return await _respond(send, 200, "text/html; charset=utf-8", LOGIN_PAGE.encode())
        body = json.dumps({"detail": "Not authenticated"}).encode()
        return await _respond(send, 401, "application/json", body)


    async def _login(self, scope, receive, send):
        """The login request, throttled: the form is read here (and handed on unchanged), the answer watched."""
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        user = (parse_qs(body.decode("latin-1")).get("username") or [""])[0][:200]
        address = (scope.get("client") or ("?", 0))[0]
        wait = self.throttle.wait_s(user, address)
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
                self.throttle.record(user, address, succeeded=200 <= message["status"] < 300)
            await send(message)

        return await self.app(scope, replay, watch)


async def _respond(send, status: int, content_type: str, body: bytes, headers: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
