"""Content-addressed cache of model responses: the same feedback, prompt version, model, endpoint and group never
cost a second call.  One small JSON file per response, written atomically.  The endpoint is part of the key:
answers from one server are never served as another server's (a studio shares its cache between users)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..fileio import write_text


class ResponseCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def key(backend: str, model: str, base_url: str, prompt_version: str, group: str, text: str) -> str:
        parts = [backend, model, base_url.rstrip("/").lower(), prompt_version, group, text]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        write_text(self._path(key), json.dumps(value, ensure_ascii=False))
