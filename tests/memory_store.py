"""ArtifactStore in memory: the calls logic and gates make, for unit tests that need no S3."""

from __future__ import annotations

import json
from typing import Any

from genai_cicd.errors import InvalidInput


class MemoryStore:
    bucket = "mem"

    def __init__(self, files: dict[str, str | bytes] | None = None) -> None:
        self.files: dict[str, bytes] = {self._key(k): v.encode() if isinstance(v, str) else v
                                        for k, v in (files or {}).items()}

    @staticmethod
    def _key(ref: str) -> str:
        return ref.removeprefix("s3://mem/")

    def uri(self, key: str) -> str:
        return f"s3://mem/{key}"

    def read_bytes(self, ref: str) -> bytes:
        try:
            return self.files[self._key(ref)]
        except KeyError:
            raise InvalidInput(f"{ref}: artifact not found") from None

    def read_text(self, ref: str) -> str:
        return self.read_bytes(ref).decode("utf-8")

    def read_json(self, ref: str) -> Any:
        return json.loads(self.read_text(ref))

    def list_keys(self, ref: str) -> list[str]:
        return sorted(k for k in self.files if k.startswith(self._key(ref)))

    def put_text(self, key: str, text: str, content_type: str = "") -> str:
        self.files[key] = text.encode()
        return self.uri(key)

    def put_expiring_text(self, key: str, text: str, content_type: str, days: int) -> str:
        self.tags = {**getattr(self, "tags", {}), key: days}
        return self.put_text(key, text, content_type)

    def put_json(self, key: str, document: Any) -> str:
        return self.put_text(key, json.dumps(document, default=str))

    def put_jsonl(self, key: str, rows: list[dict[str, Any]]) -> str:
        return self.put_text(key, "".join(json.dumps(r, default=str) + "\n" for r in rows))
