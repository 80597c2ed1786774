"""The whole state machine on the embedded AWS (one stack per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genai_cicd.cli.embedded_runner import LocalReleaseRunner
from genai_cicd.embedded.aws_session import EmbeddedAWS
from tests.utils import ROOT


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(ROOT) as embedded:
        yield embedded


@pytest.fixture(scope="module")
def runner(aws: EmbeddedAWS) -> LocalReleaseRunner:
    r = LocalReleaseRunner(aws, out=lambda _: None)
    r.setup()
    return r
