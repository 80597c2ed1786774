"""Load what a task needs from the release context's pointers."""

from __future__ import annotations

from genai_cicd import s3_keys
from genai_cicd.deps import Deps
from genai_cicd.models.manifest import ReleaseManifest, load_manifest_text
from genai_cicd.models.tasks import ReleaseContext


def load_manifest(deps: Deps, release: ReleaseContext) -> ReleaseManifest:
    return load_manifest_text(deps.artifacts.read_text(release.manifest_uri), release.manifest_uri)


def evidence_key(release: ReleaseContext, *parts: str) -> str:
    """A key under the release's prefix (the layout: ``genai_cicd/s3_keys.py``)."""
    return s3_keys.release(release.release_id, *parts)
