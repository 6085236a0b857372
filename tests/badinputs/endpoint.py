"""An OpenAI-compatible server that misbehaves on request: the model name says how.

    ok        answers (a short stream, or a completion)
    e429      429 Too Many Requests, every time
    e500      500 with an error body
    badjson   200 with a body that is not JSON
    refuse    a refusal instead of content
    cut       a stream that stops mid-answer (the connection drops)
    e403      403 whose body holds a secret (the studio shows the status and reason, never the body)
    notchat   200 with JSON that is not a chat completion
"""
from __future__ import annotations

from fastapi.responses import Response, StreamingResponse

from ..helpers.openai_server import chunk, completion

SECRET = "internal-secret-in-a-403-body"


def _cut_stream():
    import json

    def events():
        yield f"data: {json.dumps(chunk('The quality'))}\n\n"
        raise ConnectionResetError("the server went away mid-answer")

    return StreamingResponse(events(), media_type="text/event-stream")


def respond(body: dict):
    model = body.get("model", "ok")
    if model == "e429":
        return 429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"retry-after": "0"}
    if model == "e500":
        return 500, {"error": {"message": "model crashed", "type": "server_error"}}
    if model == "e403":
        return 403, {"error": {"message": SECRET, "type": "forbidden"}}
    if model == "notchat":
        return {"status": "ok", "detail": "a health check, not a chat completion"}
    if model == "badjson":
        return Response("<html>502 from a proxy</html>", media_type="application/json")
    if model == "refuse":
        if body.get("stream"):
            refusal = {**chunk(""), "choices": [{"index": 0, "delta": {"refusal": "I cannot help with that."},
                                                 "finish_reason": "stop"}]}
            return [refusal]
        return {**completion(""), "choices": [{"index": 0, "message": {"role": "assistant", "content": None,
                                                                       "refusal": "I cannot."},
                                               "finish_reason": "stop"}]}
    if model == "cut":
        return _cut_stream() if body.get("stream") else Response(b'{"id": "x", "choi', media_type="application/json")
    if body.get("stream"):
        return [chunk("Fine."), chunk("", finish="stop")]
    return completion("The quality of the image is good.")
