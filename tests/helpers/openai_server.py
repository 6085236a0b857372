"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests (FastAPI + uvicorn in a thread).

The server speaks /v1/chat/completions (plain and streaming SSE) and /v1/models; what it answers is decided by a
`respond(request_json) -> dict | iterator of dicts | (status, dict)` function the test provides: a real tiny
model, a script of replies, or injected faults (status codes, Retry-After, delays, malformed JSON).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .studio import free_port


def completion(content: str, model: str = "test", logprobs: list | None = None, finish: str = "stop") -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": len(content.split()),
                                           "total_tokens": 10 + len(content.split())}}


def chunk(delta: str, model: str = "test", finish: str | None = None) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": {"content": delta} if delta else {}, "finish_reason": finish}]}


def make_app(respond: Callable, requests: list, latency: float = 0.0) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": "test", "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        requests.append({"body": body, "headers": dict(request.headers)})
        if latency:
            await asyncio.sleep(latency)  # a model's think time, without blocking other requests
        result = respond(body)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result[0], result[1]
            headers = result[2] if len(result) > 2 else None
            return JSONResponse(payload, status_code=status, headers=headers)
        if body.get("stream"):
            def events():
                for piece in result:
                    yield f"data: {json.dumps(piece)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return result

    return app


@contextmanager
def openai_server(respond: Callable, latency: float = 0.0, port: int | None = None):
    """Yields (base_url, requests): requests records every request body and headers received."""
    requests: list = []
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(respond, requests, latency), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", requests
    finally:
        server.should_exit = True
        thread.join(timeout=10)
