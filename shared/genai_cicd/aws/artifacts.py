"""Artifacts in S3: manifests, datasets, prompts, per-case outputs and reports.

A reference is ``s3://bucket/key`` or a bare key in the control plane's
artifact bucket. Large data lives here; state carries only the URI.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from genai_cicd.errors import ArtifactUnreadable, InvalidInput

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
EXPIRY_TAG = "genai-cicd:expire-days"  # the bucket's lifecycle rules (template.yaml) delete by this tag


class ArtifactStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def locate(self, ref: str) -> tuple[str, str]:
        if ref.startswith("s3://"):
            bucket, _, key = ref[5:].partition("/")
            if not bucket or not key:
                raise InvalidInput(f"{ref}: expected s3://bucket/key")
            return bucket, key
        return self.bucket, ref.lstrip("/")

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def exists(self, ref: str) -> bool:
        bucket, key = self.locate(ref)
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                return False
            raise
        return True

    def read_bytes(self, ref: str) -> bytes:
        bucket, key = self.locate(ref)
        try:
            obj = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NoSuchBucket"):
                raise InvalidInput(f"{ref}: artifact not found") from None
            raise
        if obj.get("ContentLength", 0) > MAX_ARTIFACT_BYTES:
            raise InvalidInput(f"{ref}: larger than {MAX_ARTIFACT_BYTES} bytes")
        data: bytes = obj["Body"].read()
        return data

    def read_text(self, ref: str) -> str:
        try:
            return self.read_bytes(ref).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{ref}: not UTF-8 text") from None

    def list_keys(self, ref: str) -> list[str]:
        """Every key under a prefix (``s3://bucket/prefix`` or a prefix in the artifact bucket), sorted."""
        bucket, prefix = self.locate(ref) if ref.startswith("s3://") else (self.bucket, ref)
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(f"s3://{bucket}/{k}" if ref.startswith("s3://") else k for k in keys)

    def keys_after(self, prefix: str, start_after: str | None) -> list[str]:
        """Keys under ``prefix`` in the artifact bucket that sort after ``start_after`` (all when None)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        keys: list[str] = []
        while True:
            page = self._s3.list_objects_v2(**kwargs)
            keys += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def put_text(self, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> str:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return self.uri(key)

    def put_expiring_text(self, key: str, text: str, content_type: str, days: int) -> str:
        """An object the bucket's lifecycle rules delete after ``days`` (1, 3, 7, 14 or 30): the tag
        genai-cicd:expire-days, as on the captured answers it quotes (PutObject's Tagging, URL-encoded)."""
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type,
                            Tagging=urlencode({EXPIRY_TAG: days}))
        return self.uri(key)

    def read_json(self, ref: str) -> Any:
        try:
            return json.loads(self.read_text(ref))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{ref}: not valid JSON: {exc.msg}") from None

    def read_json_counted(self, ref: str) -> Any:
        """read_json for readers that count an unreadable object instead of failing on it: any S3
        error (denied, throttled, gone) is ArtifactUnreadable, so logic needs no botocore."""
        try:
            return self.read_json(ref)
        except ClientError as exc:
            raise ArtifactUnreadable(f"{ref}: {exc.response.get('Error', {}).get('Code', 'error')}") from None

    def put_json(self, key: str, document: Any) -> str:
        return self.put_text(key, json.dumps(document, indent=2, sort_keys=True, default=str), "application/json")

    def put_jsonl(self, key: str, rows: list[dict[str, Any]]) -> str:
        body = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows)
        return self.put_text(key, body, "application/x-ndjson")
