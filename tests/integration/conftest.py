"""Handler + logic + moto: one embedded AWS per test module, provisioned from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genai_cicd.cli.embedded_runner import LocalReleaseRunner
from genai_cicd.embedded.aws_session import EmbeddedAWS
from tests.utils import ROOT


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(ROOT) as embedded:
        LocalReleaseRunner(embedded, out=lambda _: None).seed_event_fixtures()
        yield embedded
