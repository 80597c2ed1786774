"""Test configuration shared by the pyramid: markers by folder, a clean AWS-free environment."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# No real AWS is ever reached: credentials are fake, the region is fixed.
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "genai-cicd-tests", "POWERTOOLS_METRICS_NAMESPACE": "GenAICicdTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
})
os.environ.pop("AWS_PROFILE", None)


# The longest test files first (measured: pytest --junitxml, seconds per file on 2 workers). `make
# test`'s workers take whole files in collection order (--dist loadfile with --no-loadscope-reorder:
# xdist's default reorders files by their number of tests, which put the few long demo releases last,
# alone); a long file handed out last would run alone at the end while the other worker idles.
LONGEST_FIRST = [
    "e2e/test_demo_releases.py", "reliability/test_faults_at_every_call.py",
    "reliability/test_faults_at_every_call_second_half.py", "reliability/test_restart_reconciliation.py",
    "e2e/test_pipeline_paths.py",
    "reliability/test_missing_data_locks_and_models.py", "security/test_logs_notifications_audit.py",
    "e2e/test_readme_commands.py", "e2e/test_pipeline_kit.py", "e2e/test_rollback_and_events.py",
    "integration/test_handlers_with_events.py", "reliability/test_bad_input.py", "e2e/test_pipeline_events.py",
    "reliability/test_duplicates_and_ordering.py", "security/test_template_scanners.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in ("unit", "contract", "integration", "e2e", "reliability", "security"):
            item.add_marker(getattr(pytest.mark, parts[0]))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).relative_to(ROOT / "tests").as_posix(),
                                         len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# -- IAM: grants no run exercises (issue #25) ------------------------------------------------------------
# With GENAI_CICD_IAM_AUDIT=1 (make test), every embedded AWS of the session writes the grants its calls
# used; at the end, a grant of template.yaml that no call used fails the session unless docs/SECURITY.md
# justifies it (its "Grants no test exercises" list; an entry may use * and ?, as in `*: kms:Decrypt`).
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("GENAI_CICD_IAM_AUDIT") == "1" and not hasattr(config, "workerinput"):
        os.environ["GENAI_CICD_IAM_LEDGER"] = tempfile.mkdtemp(prefix="genai-cicd-iam-")


def justified_grants() -> set[str]:
    text = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    section = text.split("## Grants no test exercises", 1)[1].split("\n## ", 1)[0] if \
        "## Grants no test exercises" in text else ""
    return set(re.findall(r"^- `([^`]+)`", section, flags=re.M))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ledger = os.environ.get("GENAI_CICD_IAM_LEDGER")
    if not ledger or hasattr(session.config, "workerinput") or exitstatus != 0:
        return
    from genai_cicd_local.embedded.iam import unused_grants

    exports = [json.loads(p.read_text(encoding="utf-8")) for p in Path(ledger).glob("*.json")]
    import fnmatch

    patterns = justified_grants()
    unjustified = sorted(g for g in set(unused_grants(exports)) if not any(fnmatch.fnmatchcase(g, p) for p in patterns))
    if unjustified:
        print("\nIAM grants no test exercised and docs/SECURITY.md does not justify "
              "(remove them, or justify each under 'Grants no test exercises'):")
        for grant in unjustified:
            print(f"  - `{grant}`")
        session.exitstatus = 1
