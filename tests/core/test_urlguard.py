"""A URL a studio user types never makes the server reach an internal address, redirects included; the operator's
listed URLs are reached; an endpoint's error body is never shown; the environment's organisation and project go
only where its key goes.  Real local HTTP servers throughout."""
import pytest
from fastapi.responses import JSONResponse, RedirectResponse

from qinstruct.endpoints import NO_KEY, KeyPolicy
from qinstruct.models.remote import RemoteModel
from qinstruct.models.types import ModelLoadError, Turn
from qinstruct.urlguard import UrlRule, internal_reason, url_allowed

from ..helpers.openai_server import chunk, completion, openai_server

SECRET = "internal-secret-7f3a"


def answer(body):
    return [chunk("fine"), chunk("", finish="stop")] if body.get("stream") else completion("fine")


def plain_json(body):
    return completion("not a stream")


def forbidden(body):
    return JSONResponse({"error": {"message": f"no: {SECRET}"}}, status_code=403)


def ask(url: str, keys: KeyPolicy, key: str | None = None) -> str:
    model = RemoteModel(f"openai:m@{url}", "m", url, key_policy=keys, api_key=key, max_retries=0)
    return "".join(model.stream([Turn("hi")], None))


@pytest.mark.parametrize("address, internal", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.9", "private"),
    ("172.16.5.5", "private"), ("169.254.169.254", "link-local"), ("100.64.0.1", "private"),
    ("0.0.0.0", "private"), ("::ffff:127.0.0.1", "loopback"), ("fe80::1", "link-local"), ("fd00::5", "private"),
    ("224.0.0.1", "multicast"), ("8.8.8.8", None), ("2606:4700:4700::1111", None)])
def test_internal_addresses_are_named(address, internal):
    reason = internal_reason(address)
    assert (reason is None) if internal is None else (internal in reason)


def test_the_operators_urls_match_by_host_port_and_path():
    rules = (UrlRule.parse("http://127.0.0.1"), UrlRule.parse("https://llm.lan:8443/v1"))
    assert url_allowed("http://127.0.0.1:5000/v1/chat/completions", rules)  # no port in the rule: any port
    assert url_allowed("https://llm.lan:8443/v1/chat/completions", rules)
    assert not url_allowed("https://llm.lan:9443/v1/chat/completions", rules)
    assert not url_allowed("https://llm.lan:8443/v10/chat", rules)  # a path prefix is a whole segment
    assert not url_allowed("http://127.0.0.1.evil.example/v1", rules)  # a host is matched whole, never a prefix
    assert not url_allowed("https://127.0.0.1:5000/v1", rules)  # nor another scheme
    with pytest.raises(ValueError, match="starts with http"):
        KeyPolicy.for_studio(allowed_urls=["file:///etc"])


def test_a_studio_user_reaches_no_loopback_service_by_any_name(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    with openai_server(answer) as (url, requests):
        port = url.split(":")[-1].split("/")[0]
        for typed in (url, f"http://localhost:{port}/v1", f"http://[::ffff:127.0.0.1]:{port}/v1",
                      f"http://0.0.0.0:{port}/v1", f"http://2130706433:{port}/v1"):
            with pytest.raises(ModelLoadError, match=r"cannot reach .* (loopback|private or reserved)"):
                ask(typed, KeyPolicy.for_studio())
        assert requests == []  # not one request arrived
        assert ask(url, KeyPolicy.for_studio(allowed_urls=[f"http://127.0.0.1:{port}"])) == "fine"
        assert ask(url, KeyPolicy()) == "fine"  # the command line: its user is the operator
        assert requests[0]["headers"]["authorization"] == f"Bearer {NO_KEY}"  # allowed, yet no server key


def test_a_redirect_to_an_internal_address_is_not_followed():
    with openai_server(answer) as (inside, reached):
        def redirect(body):
            return RedirectResponse(inside + "/chat/completions", status_code=307)

        with openai_server(redirect) as (listed, _):
            port = listed.split(":")[-1].split("/")[0]
            keys = KeyPolicy.for_studio(allowed_urls=[f"http://127.0.0.1:{port}"])
            with pytest.raises(ModelLoadError, match="loopback"):
                ask(listed, keys)
        assert reached == []


def test_an_error_shows_its_status_and_reason_never_its_body():
    with openai_server(forbidden) as (url, _):
        with pytest.raises(ModelLoadError) as refused:
            ask(url, KeyPolicy.for_studio(allowed_urls=["http://127.0.0.1"]))
    assert "HTTP 403" in str(refused.value) and "Forbidden" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_the_environments_organisation_goes_only_with_its_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-server")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-server")
    with openai_server(answer) as (url, requests):
        typed = KeyPolicy.for_studio(allowed_urls=["http://127.0.0.1"])  # reachable, but not the key's endpoint
        ask(url, typed)
        ask(url, typed, key="sk-user")
        configured = KeyPolicy.for_studio(endpoints=[url])
        ask(url, configured)  # the operator's endpoint: the server's key, and its organisation with it
        ask(url, configured, key="sk-user")  # a user's own key: never the server's organisation
    sent = [(r["headers"]["authorization"], r["headers"].get("openai-organization"),
             r["headers"].get("openai-project")) for r in requests]
    assert sent == [(f"Bearer {NO_KEY}", None, None), ("Bearer sk-user", None, None),
                    ("Bearer sk-server", "org-server", "proj-server"), ("Bearer sk-user", None, None)]


def test_a_plain_answer_to_a_streamed_question_is_one_line():
    with openai_server(plain_json) as (url, _):
        with pytest.raises(ModelLoadError, match="not with a chat completion stream"):
            ask(url, KeyPolicy())


def test_every_connection_is_checked_again_whatever_was_checked_before():
    """The early check (before a job starts) is a courtesy: the transport refuses the connection itself, so a
    name that resolved to a public address then and to an internal one now reaches nothing."""
    import httpx2

    from qinstruct.urlguard import BlockedAddress, GuardedTransport

    with openai_server(answer) as (url, requests):
        with httpx2.Client(transport=GuardedTransport()) as client:
            with pytest.raises(BlockedAddress, match="loopback"):
                client.get(url + "/models")
        port = url.split(":")[-1].split("/")[0]
        with httpx2.Client(transport=GuardedTransport((UrlRule.parse(f"http://127.0.0.1:{port}"),))) as client:
            assert client.get(url + "/models").status_code == 200  # listed: reached
    assert requests == []  # /models is not recorded; nothing reached /chat/completions either
