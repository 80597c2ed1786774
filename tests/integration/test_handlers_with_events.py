"""Given each file in events/, when its function runs on the embedded AWS, then it behaves as documented."""

from __future__ import annotations

import json

import pytest

from genai_cicd.embedded.aws_session import EmbeddedAWS
from tests.utils import ROOT

EXPECTED_ERRORS = {
    "validate_manifest/invalid-manifest": "ManifestInvalid",
    "start_release/malformed": "InvalidInput",
}
EVENTS = sorted(str(p.relative_to(ROOT / "events").with_suffix("")) for p in (ROOT / "events").glob("*/*.json"))
# The order matters for a few: the lock is acquired before it is released.
ORDER = {"release_lock/acquire": 0, "release_lock/release": 1}


def logical_for(aws: EmbeddedAWS, folder: str) -> str:
    for stack in (aws.control_plane, aws.sample_app):
        assert stack is not None
        for logical, spec in stack.functions.items():
            if folder in (spec.code_dir.name, spec.code_dir.parent.name):
                return logical
    raise AssertionError(folder)


@pytest.mark.parametrize("name", sorted(EVENTS, key=lambda n: ORDER.get(n, 0)))
def test_given_event_file_when_invoked_then_result_is_as_documented(aws: EmbeddedAWS, name: str) -> None:
    event = json.loads((ROOT / "events" / f"{name}.json").read_text())
    payload, error = aws.invoke(logical_for(aws, name.split("/")[0]), event)
    if name in EXPECTED_ERRORS:
        assert error and payload["errorType"] == EXPECTED_ERRORS[name], payload
        assert "Field required" in payload["errorMessage"] or "canary.steps" in payload["errorMessage"]
    else:
        assert not error, payload


def test_given_invalid_manifest_when_validated_then_nothing_is_written(aws: EmbeddedAWS) -> None:
    event = json.loads((ROOT / "events" / "validate_manifest" / "invalid-manifest.json").read_text())
    aws.invoke("ValidateManifestFunction", event)
    listed = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="releases/evt-invalid/")
    assert listed.get("KeyCount", 0) == 0
