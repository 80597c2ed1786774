"""Handler + logic + moto: one embedded AWS per test module, provisioned from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.utils import ROOT


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(ROOT) as embedded:
        LocalReleaseRunner(embedded, out=lambda _: None).seed_event_fixtures()
        yield embedded
        findings = embedded.iam_findings()
        assert not findings, "IAM would deny calls of this run:\n" + "\n".join(findings)
