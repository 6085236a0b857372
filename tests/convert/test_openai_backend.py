"""The GPT backend through the real `openai` client against a real local OpenAI-compatible server, with faults
injected: 429 with Retry-After, 500, timeouts, malformed JSON, schema-violating answers, refusals."""
import asyncio
import json
import time
from collections import defaultdict

import pytest
from fastapi.responses import JSONResponse, PlainTextResponse

from qinstruct.convert.backends import ConversionError, FeedbackRef, create_backend
from qinstruct.convert.cache import ResponseCache

from ..helpers.openai_server import chunk, completion, openai_server

FEEDBACK = FeedbackRef("img-1#0", "The duck on the left is heavily blurred. Thus, the quality of the image is poor.",
                       "img-1.png")
VQA = {"yes_no": [{"question": "Is the image blurry?", "answer": "yes"},
                  {"question": "Is the overall quality of the image good?", "answer": "no"}],
       "what": [{"question": "What distortion is most visible?", "answer": "motion blur",
                 "distractors": ["noise", "over-exposure", "pixelation"]}],
       "how": [{"question": "How is the overall quality of the image?", "answer": "poor",
                "distractors": ["good", "excellent", "fair"]}],
       "context": [{"question": "Is the duck on the left blurred?", "answer": "yes", "distractors": [],
                    "kind": "yes-no"},
                   {"question": "Which distortion affects the duck on the left?", "answer": "blur",
                    "distractors": ["noise", "haze", "frost"], "kind": "choice"}]}
EXTENDED = {"conversations": [{"topic": "why", "turns": [
    {"question": "Why is the duck blurred?", "answer": "It moved while the shutter was open."},
    {"question": "How could this be avoided?", "answer": "Use a faster shutter speed."}]}]}


def group_of(body) -> str:
    return body["response_format"]["json_schema"]["name"].split("_")[-1]


def good_answer(body):
    data = VQA if group_of(body) == "vqa" else EXTENDED
    if body.get("stream"):
        text = json.dumps(data)
        return [chunk(text[i:i + 17]) for i in range(0, len(text), 17)] + [chunk("", finish="stop")]
    return completion(json.dumps(data))


def scripted(*faults):
    """The first requests get the given faults in order, then good answers."""
    calls = defaultdict(int)

    def respond(body):
        n = calls["n"]
        calls["n"] += 1
        if n < len(faults):
            return faults[n](body)
        return good_answer(body)

    return respond


def backend(url, tmp_path, **kwargs):
    return create_backend("openai", model="gpt-4o-mini", base_url=url, api_key="sk-secret-do-not-log",
                          cache=ResponseCache(tmp_path / "cache"), backoff_base=0.05, **kwargs)


def convert(engine, ref=FEEDBACK, **kwargs):
    return asyncio.run(engine.convert(ref, **kwargs))


def test_clean_conversion_items_and_provenance(tmp_path):
    with openai_server(good_answer) as (url, requests):
        conversion = convert(backend(url, tmp_path))
    assert not conversion.flags and conversion.calls == 2
    types = [i["type"] for i in conversion.items]
    assert types.count("pathway") == 1 and types.count("yes-no") == 2 and types.count("extended") == 1
    assert {i["form"] for i in conversion.items if i["type"] == "what"} == {"mcq", "direct"}
    assert all(i["provenance"] == {"feedback_id": "img-1#0", "backend": "openai", "model": "gpt-4o-mini",
                                   "prompt_version": "gpt-1"} for i in conversion.items)
    assert conversion.items[0]["conversations"][0]["value"].startswith("<image>\n")
    body = requests[0]["body"]
    assert body["response_format"]["json_schema"]["strict"] is True and FEEDBACK.text in body["messages"][1]["content"]
    assert requests[0]["headers"]["authorization"] == "Bearer sk-secret-do-not-log"
    for path in (tmp_path / "cache").rglob("*.json"):
        assert "sk-secret" not in path.read_text()  # the key is never written anywhere


def test_streaming_gives_the_same_items(tmp_path):
    deltas = []
    with openai_server(good_answer) as (url, _):
        streamed = convert(backend(url, tmp_path / "a"), on_delta=lambda group, delta: deltas.append(delta))
        plain = convert(backend(url, tmp_path / "b"))
    assert len(deltas) > 10 and streamed.items == plain.items


def test_cache_means_no_second_call(tmp_path):
    with openai_server(good_answer) as (url, requests):
        first = convert(backend(url, tmp_path))
        second = convert(backend(url, tmp_path))
    assert len(requests) == 2 and second.calls == 0 and second.cached_groups == 2 and second.items == first.items


def test_429_with_retry_after_then_success(tmp_path):
    rate_limited = lambda body: (429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": "1"})  # noqa
    with openai_server(scripted(rate_limited)) as (url, requests):
        started = time.perf_counter()
        conversion = convert(backend(url, tmp_path))
    assert time.perf_counter() - started >= 1.0  # Retry-After was honoured
    assert not conversion.flags and len(requests) == 3


def test_500_and_timeouts_are_retried(tmp_path):
    def slow(body):
        time.sleep(1.5)
        return good_answer(body)

    crash = lambda body: (500, {"error": {"message": "boom", "type": "server_error"}})  # noqa
    with openai_server(scripted(crash, slow)) as (url, requests):
        conversion = convert(backend(url, tmp_path, timeout=0.5))
    assert not conversion.flags and len(conversion.items) > 5


def test_gives_up_with_a_clear_error(tmp_path):
    crash = lambda body: (503, {"error": {"message": "overloaded", "type": "server_error"}})  # noqa
    with openai_server(crash) as (url, requests):
        with pytest.raises(ConversionError, match="gave up after 3 attempts"):
            convert(backend(url, tmp_path, max_attempts=3))
    assert len(requests) == 3
    with openai_server(lambda body: (401, {"error": {"message": "bad key", "type": "auth"}})) as (url, requests):
        with pytest.raises(ConversionError, match="HTTP 401"):
            convert(backend(url, tmp_path))
    assert len(requests) == 1  # not retried


def test_errors_that_will_not_heal_are_not_retried(tmp_path, monkeypatch):
    """A missing key for OpenAI's API, an unknown host, a refused key: one line at once, not 10 s of retries."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConversionError, match="no API key for https://api.openai.com/v1: type one"):
        create_backend("openai", base_url="https://api.openai.com/v1")
    started = time.perf_counter()
    with pytest.raises(ConversionError, match="unknown host .*not retried"):
        convert(create_backend("openai", base_url="http://no-such-host.invalid/v1", api_key="k", backoff_base=1.0))
    assert time.perf_counter() - started < 5  # five attempts with this backoff would take 15 s
    with openai_server(lambda body: (401, {"error": {"message": "bad key", "type": "auth"}})) as (url, requests):
        with pytest.raises(ConversionError, match="HTTP 401: the endpoint refused the API key"):
            convert(backend(url, tmp_path))
    create_backend("openai", base_url="http://127.0.0.1:9/v1")  # a local server needs no key


def test_malformed_json_is_retried_once_with_the_error(tmp_path):
    broken = lambda body: completion('{"yes_no": [')  # noqa
    with openai_server(scripted(broken)) as (url, requests):
        conversion = convert(backend(url, tmp_path), subsets=("yes-no",))
    assert not conversion.flags and conversion.calls == 2
    retry = requests[1]["body"]["messages"]
    assert retry[-2]["role"] == "assistant" and "not valid JSON" in retry[-1]["content"]


def test_schema_violations_are_flagged_not_dropped(tmp_path):
    bad = json.loads(json.dumps(VQA))
    bad["what"][0]["distractors"] = ["motion blur", "noise", "fog"]  # the answer among the distractors
    bad["how"][0]["question"] = "How poor is the image, poor or good?"  # the answer leaked in the question
    bad["yes_no"] = [{"question": f"Is it blurry {k}?", "answer": "yes"} for k in range(3)]  # unbalanced
    with openai_server(lambda body: completion(json.dumps(bad if group_of(body) == "vqa" else EXTENDED))) as (
            url, requests):
        conversion = convert(backend(url, tmp_path))
    assert conversion.calls == 3  # vqa twice (the retry got the same bad answer), extended once
    joined = " | ".join(conversion.flags)
    assert "not exactly one of the options" in joined or "duplicate options" in joined
    assert "leaked in the question" in joined and "unbalanced (3 yes, 0 no)" in joined
    flagged = [i for i in conversion.items if i.get("flags")]
    assert flagged and all(i["type"] in ("what", "how") for i in flagged)  # kept, with their flags


def test_refusal_is_flagged(tmp_path):
    def refuse(body):
        answer = completion("")
        answer["choices"][0]["message"]["content"] = None
        answer["choices"][0]["message"]["refusal"] = "I can't help with that."
        return answer

    with openai_server(refuse) as (url, _):
        conversion = convert(backend(url, tmp_path), subsets=("pathway", "yes-no"))
    assert any("refused: I can't help with that." in f for f in conversion.flags)
    assert [i["type"] for i in conversion.items] == ["pathway"]  # what could be made is kept


def test_plain_json_response_object(tmp_path):
    # some servers answer with a JSONResponse of their own making: the client must still parse it
    with openai_server(lambda body: JSONResponse(good_answer({**body, "stream": False}))) as (url, _):
        assert not convert(backend(url, tmp_path)).flags


def _without_message(body):
    answer = completion("")
    answer["choices"][0]["message"] = None
    return answer


def _null_content(body):
    answer = completion("")
    answer["choices"][0]["message"]["content"] = None  # and no refusal either
    return answer


@pytest.mark.parametrize("respond, problem", [
    (lambda body: {"hello": 1}, 'no choices in {"hello": 1}'),
    (lambda body: {"choices": []}, 'no choices in {"choices": []}'),
    (lambda body: [1, 2], "no choices in [1, 2]"),
    (lambda body: PlainTextResponse("<html>it works</html>"), "no choices in <html>it works</html>"),
    (_without_message, "its choice has no message"),
    (_null_content, "the message has no content")])
def test_a_200_answer_that_is_not_a_chat_completion_is_said_in_one_line(tmp_path, respond, problem):
    """What the Convert tab's preview calls: a server answering 200 with another API's JSON gave "'NoneType' object
    is not subscriptable" (or flags about invalid JSON, after a second request that could not help)."""
    from qinstruct.convert.job import ConvertJobConfig, preview_conversion

    with openai_server(respond) as (url, requests):
        config = ConvertJobConfig(input=str(tmp_path / "feedbacks.jsonl"), out=str(tmp_path / "preview"),
                                  backend="openai", model="gpt-4o-mini", base_url=url, subsets=["yes-no"])
        with pytest.raises(ConversionError) as raised:
            preview_conversion(config, FEEDBACK, "sk-test")
    assert str(raised.value) == f"{url}: the endpoint answered, but not with a chat completion ({problem})"
    assert len(requests) == 1  # a server that answers so will not answer otherwise when asked again
