"""The artifact bucket's key layout, in one place.

    artifacts/<sha256[:16]>/<file name>          a release's inputs, content-addressed (bundle, local runs)
    pipelines/<pipeline>/<execution id>/release.json   the manifest a pipeline's build wrote
    releases/<release>/manifest.json             the manifest as the release read it
    releases/<release>/gates/<gate>/...          each gate's evidence (verdict.json, outputs, results)
    releases/<release>/quality_gate.json         the quality gate's verdict
    releases/<release>/canary/interval-NNNN.json the canary's time series; quality-NNNN.json its scores
    releases/<release>/samples/<user|probe>/...  captured answers (written by genai_cicd_app, expire by tag)
    releases/<release>/report.md|html, <release>-cases.html   the release report
    reports/index/<inverted time>-<release>.json, reports/index.html   the release index
    map-results/                                 the Distributed Map's ResultWriter (release.asl.json)

The app layer (``genai_cicd_app``) writes samples with its own copy of that one pattern, since it
ships without this package; tests/unit/test_app_helper.py checks that the two agree.
"""

from __future__ import annotations

ARTIFACTS = "artifacts/"
REPORT_INDEX_PREFIX = "reports/index/"
REPORT_INDEX = "reports/index.html"


def artifact(digest: str, file_name: str) -> str:
    return f"{ARTIFACTS}{digest[:16]}/{file_name}"


def pipeline_manifest(pipeline: str, execution_id: str) -> str:
    return f"pipelines/{pipeline}/{execution_id}/release.json"


def release(release_id: str, *parts: str) -> str:
    return "/".join(("releases", release_id, *parts))


def release_manifest(release_id: str) -> str:
    return release(release_id, "manifest.json")


def samples(release_id: str, stream: str) -> str:
    """The prefix of one stream's captured answers (``user`` or ``probe``), ending with a slash."""
    return release(release_id, "samples", stream) + "/"


def report(release_id: str, extension: str) -> str:
    return release(release_id, f"report.{extension}")


def report_cases(release_id: str) -> str:
    return release(release_id, f"{release_id}-cases.html")


def report_shadow_pairs(release_id: str) -> str:
    """The worst shadow pairs with their text: deleted with the captured pairs (expiry tag)."""
    return release(release_id, f"{release_id}-shadow-pairs.html")
