"""Faults at every AWS call of a release, second half of the discovered calls (tests/reliability/faults.py
says how the calls are found and what each release must end with)."""

from __future__ import annotations

from pathlib import Path

from genai_cicd_local.embedded.aws_session import EmbeddedAWS
from genai_cicd_local.runner import LocalReleaseRunner
from tests.reliability.faults import discovered, fault_each_call  # noqa: F401 - discovered is a fixture


def test_given_a_fault_at_each_aws_call_of_a_release_then_it_ends_clean_with_traffic_where_it_belongs(
        aws: EmbeddedAWS, runner: LocalReleaseRunner,
        discovered: tuple[Path, list[tuple[str, str]], set[tuple[str, str]]]) -> None:  # noqa: F811
    fault_each_call(aws, runner, discovered, shard=1)
