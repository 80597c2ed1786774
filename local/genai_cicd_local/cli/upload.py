"""Upload the local files a manifest names to the artifact bucket, content-addressed.

Local files named in a manifest (prompts, datasets, suites) are uploaded to
the artifact bucket under content-addressed keys and the manifest is
rewritten to point at them; s3:// references are left alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from genai_cicd import s3_keys
from genai_cicd.errors import InvalidInput
from genai_cicd.models.documents import read_text
from genai_cicd.models.manifest import MAX_MANIFEST_BYTES, decode_manifest_text, parse_manifest
from genai_cicd_local.cli.paths import resolve_ref


def upload_manifest_artifacts(manifest_path: Path, s3: Any, bucket: str) -> dict[str, Any]:
    """Validate the manifest and read every local file it names, then upload them; return the rewritten
    manifest. Nothing is uploaded unless every reference resolves and reads."""
    data = decode_manifest_text(read_text(manifest_path, max_bytes=MAX_MANIFEST_BYTES, what="manifest"),
                                str(manifest_path))
    parsed = parse_manifest(data, str(manifest_path))  # fail before uploading anything
    uploads: list[tuple[dict[str, Any], str, Path, bytes]] = []
    # Every file the release reads, named once (ReleaseManifest.artifact_refs).
    for where, _ in parsed.artifact_refs():
        path = where.split(".")
        node: Any = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or path[-1] not in node:
            continue
        ref = node[path[-1]]
        if str(ref).startswith("s3://"):
            continue
        local = resolve_ref(manifest_path, ".".join(path), str(ref))
        try:
            body = local.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{manifest_path}: {'.'.join(path)}: cannot read {ref}: {exc.strerror or exc}") from None
        uploads.append((node, path[-1], local, body))
    for node, field, local, body in uploads:
        key = s3_keys.artifact(hashlib.sha256(body).hexdigest(), local.name)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        node[field] = f"s3://{bucket}/{key}"
    return data
