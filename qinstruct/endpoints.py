"""OpenAI-compatible endpoints (OpenAI, vLLM, SGLang, Ollama...): defaults, and which key goes where.

A key typed by a user belongs to that user's request only.  The key in the environment (`OPENAI_API_KEY`)
belongs to whoever started the process: on the command line that is the user, so it goes to any endpoint;
in the studio it goes only to the endpoints the operator configured (`KeyPolicy.env_key_endpoints`), never to
a URL a browser user typed.  Keys are never logged, written to a file or shown back.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"  # the one default model name for every OpenAI-compatible job
NO_KEY = "no-key-for-local-servers"  # what the client sends when there is no key (local servers ignore it)


def normalise_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def default_base_url() -> str:
    return os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def check_url(url: str) -> None:
    """Refuse at once what is no HTTP(S) endpoint (file://, a bare host...): retrying it cannot help."""
    from .errors import UserError

    scheme, sep, rest = (url or "").strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise UserError(f"{url}: an endpoint's base URL must start with http:// or https://")


def needs_key(base_url: str) -> bool:
    """OpenAI's own API refuses every request without a key; local servers (vLLM, Ollama...) do not ask for one."""
    from urllib.parse import urlparse

    host = (urlparse(base_url.strip()).hostname or "").lower()
    return host == "openai.com" or host.endswith(".openai.com")


def missing_key_message(base_url: str) -> str:
    return (f"no API key for {base_url}: type one in the API key box (kept in memory for your requests), or set "
            "OPENAI_API_KEY where the command runs")


def unknown_host(error: BaseException) -> bool:
    """Whether a connection failed because the host name does not resolve (a typo, or no network): retrying in
    a few seconds cannot help, unlike a refused connection (a server still starting)."""
    import socket

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, socket.gaierror) or any(text in str(error) for text in (
                "Name or service not known", "nodename nor servname", "No address associated with hostname",
                "Temporary failure in name resolution", "getaddrinfo failed")):
            return True
        error = error.__cause__ or error.__context__
    return False


def reason_of(error: BaseException) -> str:
    """An HTTP error's short reason (" (Forbidden)"): never its body, which may hold anything the endpoint
    chose to say -- an internal service's secrets included."""
    phrase = getattr(getattr(error, "response", None), "reason_phrase", "") or ""
    return f" ({phrase[:80]})" if phrase else ""


def blocked_reason(error: BaseException) -> str | None:
    """Why the studio refused to connect for a user's URL (urlguard), if that is why a request failed."""
    from .urlguard import BlockedAddress

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, BlockedAddress):
            return str(error)
        error = error.__cause__ or error.__context__
    return None


def status_message(status: int) -> str:
    """What an HTTP error from an endpoint means for the user, in their words."""
    if status in (401, 403):
        return f"HTTP {status}: the endpoint refused the API key (check the key, or whether it may use this model)"
    if status == 404:
        return "HTTP 404: no such model or path at this endpoint (check the model name and the base URL)"
    return f"HTTP {status}"


@dataclass(frozen=True)
class KeyPolicy:
    """Where the environment's key may go (None: anywhere, as on the command line; a set: only there), and
    whether users may reach other endpoints at all (`only_configured`: the studio's --endpoints-only, which
    keeps a browser user from making the server call arbitrary URLs).  In the studio (a set), a URL the operator
    did not list (`--endpoint`, `--allow-url`) reaches public addresses only (urlguard.py)."""
    env_key_endpoints: frozenset[str] | None = None
    only_configured: bool = False
    user_key: str | None = field(default=None, repr=False, compare=False)  # a launched job's: its user typed it
    allowed_urls: frozenset[str] = frozenset()  # --allow-url: reached even on an internal address, without the key

    @classmethod
    def for_studio(cls, endpoints: list[str] | tuple[str, ...] = (), only_configured: bool = False,
                   allowed_urls: list[str] | tuple[str, ...] = ()) -> KeyPolicy:
        """The operator's endpoints: those given with --endpoint, plus the default one (OPENAI_BASE_URL or
        OpenAI's), which is where a key put in the studio's environment is meant to go; and the other URLs the
        operator lets users reach on internal addresses (a local vLLM, say)."""
        from .urlguard import UrlRule

        for url in [*endpoints, *allowed_urls]:
            UrlRule.parse(url)  # a bad --endpoint or --allow-url is refused at start, naming it
        return cls(frozenset(normalise_url(url) for url in [*endpoints, default_base_url()]), only_configured,
                   allowed_urls=frozenset(normalise_url(url) for url in allowed_urls))

    @property
    def guarded(self) -> bool:
        """Whether a URL's addresses are checked (the studio's users), or not (the command line's)."""
        return self.env_key_endpoints is not None

    def url_rules(self) -> tuple:
        from .urlguard import UrlRule

        return tuple(UrlRule.parse(url) for url in sorted({*(self.env_key_endpoints or ()), *self.allowed_urls}))

    def check(self, base_url: str) -> None:
        """Whether this process may call `base_url` at all (an HTTP(S) URL; with only_configured, a configured
        one; for a studio user, one whose host is on a public address, unless the operator listed it): said
        before any job starts for it, in one line (UserError).  The guard checks every connection again."""
        from .errors import UserError
        from .urlguard import internal_host, url_allowed

        check_url(base_url)
        listed = normalise_url(base_url) in (self.env_key_endpoints or ()) or url_allowed(base_url, self.url_rules())
        if self.only_configured and not listed:
            raise UserError(f"{base_url}: this studio reaches only the endpoints its operator configured")
        reason = internal_host(base_url) if self.guarded and not listed else None
        if reason:
            raise UserError(f"cannot reach {base_url}: {reason}")

    def env_key_allowed(self, base_url: str) -> bool:
        return self.env_key_endpoints is None or normalise_url(base_url) in self.env_key_endpoints

    def client(self, base_url: str, key: str, asynchronous: bool = False, **options):
        """An OpenAI client for `base_url` sending `key`: the organisation and project of the environment go only
        with the environment's own key (where that key may go), and a studio user's URL reaches only what the
        guard lets it (every connection, every redirect)."""
        import openai

        env_key = os.environ.get("OPENAI_API_KEY")
        headers = {} if key == env_key and self.env_key_allowed(base_url) else \
            {"OpenAI-Organization": openai.Omit(), "OpenAI-Project": openai.Omit()}
        if self.guarded:
            from .urlguard import AsyncGuardedTransport, GuardedTransport

            transport = (AsyncGuardedTransport if asynchronous else GuardedTransport)(self.url_rules())
            http = (openai.DefaultAsyncHttpxClient if asynchronous else openai.DefaultHttpxClient)(
                transport=transport)
            options["http_client"] = http
        kind = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        return kind(api_key=key, base_url=base_url, default_headers=headers or None, **options)

    def key_for(self, base_url: str, typed_key: str | None) -> str:
        """The key to send to `base_url`: the one the user typed, else the environment's where allowed."""
        if typed_key or self.user_key:
            return typed_key or self.user_key
        env_key = os.environ.get("OPENAI_API_KEY")
        if env_key and self.env_key_allowed(base_url):
            return env_key
        return NO_KEY


COMMAND_LINE = KeyPolicy()  # the user started the process: their environment key is theirs to send
USER_KEY_ENV = "QINSTRUCT_USER_API_KEY"  # a key typed in the studio, handed to the job it launched (never written)
