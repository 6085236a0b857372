"""The remote backend against a real local OpenAI-compatible server that serves a real tiny model."""
import base64
import io

import numpy as np
import pytest
from PIL import Image

from qinstruct.models.chat import GenerationOptions, Turn, reply
from qinstruct.models.loading import load_model
from qinstruct.models.pair import load_pair, stream_pair
from qinstruct.models.rating import next_token_logits, rate

from ..helpers.openai_server import chunk, completion, openai_server

MODEL = load_model("tiny:llava")


def decode_image(messages):
    for message in messages:
        if isinstance(message["content"], list):
            for part in message["content"]:
                if part["type"] == "image_url":
                    data = part["image_url"]["url"].split(",", 1)[1]
                    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return None


def turns_of(messages):
    turns = []
    for message in messages:
        content = message["content"]
        text = content if isinstance(content, str) else " ".join(p["text"] for p in content if p["type"] == "text")
        if message["role"] == "user":
            turns.append(Turn(text))
        else:
            turns[-1].assistant = text
    return turns


def serve_tiny_model(body):
    """What a vLLM server does with our requests, computed by the tiny model itself."""
    messages, image = body["messages"], decode_image(body["messages"])
    if body.get("extra_body", body).get("continue_final_message") and body.get("logprobs"):
        prefix = messages[-1]["content"]
        logits = next_token_logits(MODEL, [image], turns_of(messages[:-1])[0].user, prefix)[0]
        logprobs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        top = np.argsort(-logprobs)[:20].tolist()
        # make sure the level words are among the top tokens, as a real model's would often be
        ids = [MODEL.tokenizer.encode(" " + w, add_special_tokens=False)[0] for w in ("excellent", "good", "fair",
                                                                                          "poor", "bad")]
        top = ids + [i for i in top if i not in ids][:15]
        entries = [{"token": MODEL.tokenizer.decode([i]), "logprob": float(logprobs[i]), "bytes": None}
                   for i in top]
        return completion(entries[0]["token"], logprobs=[{**entries[0], "top_logprobs": entries}])
    text = reply(MODEL, turns_of(messages), image, GenerationOptions(max_new_tokens=body.get("max_tokens", 16)))
    if body.get("stream"):
        words = text.split(" ")
        return [chunk(w if i == 0 else " " + w) for i, w in enumerate(words)] + [chunk("", finish="stop")]
    return completion(text)


def test_remote_stream_equals_local_model(photos):
    with openai_server(serve_tiny_model) as (url, requests):
        remote = load_model(f"openai:tiny@{url}").bind("sk-test-secret")
        options = GenerationOptions(max_new_tokens=16)
        pieces = list(remote.stream([Turn("Is this image clear?")], photos[0], options))
        assert len(pieces) > 1
        assert "".join(pieces) == reply(MODEL, [Turn("Is this image clear?")], photos[0], options)
        assert requests[-1]["headers"]["authorization"] == "Bearer sk-test-secret"
        assert requests[-1]["body"]["messages"][0]["content"][0]["type"] == "image_url"
        assert "sk-test-secret" not in repr(remote)  # never shown in logs or reprs


def test_remote_rating_from_logprobs(photos):
    with openai_server(serve_tiny_model) as (url, requests):
        remote = load_model(f"openai:tiny@{url}")
        (rating,) = remote.rate(photos[:1])
        (local,) = rate(MODEL, photos[:1])
        assert not rating.approximate
        assert rating.p_good == pytest.approx(local.p_good, abs=1e-4)
        assert rating.score == pytest.approx(local.score, abs=1e-4)
        assert requests[-1]["body"]["messages"][-1] == {"role": "assistant", "content": "The quality of the image is"}


def test_remote_without_logprobs_is_flagged_approximate(photos):
    with openai_server(lambda body: completion("The quality of the image is poor.")) as (url, _):
        (rating,) = load_model(f"openai:gpt-x@{url}").rate(photos[:1])
        assert rating.approximate and rating.level_probs["poor"] == 1.0 and rating.p_good == 0.0


def test_remote_error_stays_on_its_side(photos):
    with openai_server(lambda body: (500, {"error": {"message": "model crashed", "type": "server_error"}})) as (url, _):
        pair = load_pair("tiny:llava", f"openai:broken@{url}")
        out = ["", ""]
        for left, right in stream_pair(pair, ([Turn("Hi")], [Turn("Hi")]), photos[0],
                                       GenerationOptions(max_new_tokens=8)):
            out[0] += left
            out[1] += right
        assert out[0].strip() and out[1].startswith("⚠ ") and "500" in out[1]
        with pytest.raises(Exception, match="500"):
            pair.right.rate(photos[:1])


def test_endpoint_dying_mid_stream_stays_on_its_side(photos):
    from tests.badinputs.endpoint import respond

    with openai_server(respond) as (url, _):
        pair = load_pair("tiny:llava", f"openai:cut@{url}")
        out = ["", ""]
        for left, right in stream_pair(pair, ([Turn("Hi")], [Turn("Hi")]), photos[0],
                                       GenerationOptions(max_new_tokens=8)):
            out[0] += left
            out[1] += right
    assert out[0].strip() and "⚠" in out[1] and "broke off" in out[1]
    assert out[1].startswith("The quality")  # what arrived before the cut is kept, then the side says why


def test_remote_errors_a_speaker_can_read(photos, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(Exception, match="no API key for https://api.openai.com/v1"):
        load_model("openai:gpt-4o-mini@https://api.openai.com/v1").rate(photos[:1])
    with pytest.raises(Exception, match="cannot reach http://no-such-host.invalid/v1: unknown host"):
        load_model("openai:m@http://no-such-host.invalid/v1").rate(photos[:1])
    with openai_server(lambda body: (401, {"error": {"message": "bad key", "type": "auth"}})) as (url, _):
        with pytest.raises(Exception, match="HTTP 401: the endpoint refused the API key"):
            load_model(f"openai:m@{url}").rate(photos[:1])
