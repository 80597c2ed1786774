"""A rollback is verified only by reading the weight back; a read-back above 0 is never reported as verified."""

from __future__ import annotations

from typing import Any

import pytest

from genai_cicd.aws.traffic import LambdaAlias
from genai_cicd.errors import RollbackVerificationFailed
from genai_cicd.logic import canary as canary_logic
from genai_cicd.models.traffic import AliasReceipt


class StuckAlias:
    """A Lambda client whose alias keeps routing 30% to the candidate whatever it is told."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_alias(self, **kwargs: Any) -> dict[str, Any]:
        self.updates.append(kwargs)
        return {}

    def get_alias(self, **kwargs: Any) -> dict[str, Any]:
        return {"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.3}}}


def test_given_an_alias_that_still_routes_to_the_candidate_then_rollback_is_not_verified() -> None:
    client = StuckAlias()
    alias = LambdaAlias(client, function_name="f", alias="live", baseline_version="1", candidate_version="2")
    with pytest.raises(RollbackVerificationFailed):
        alias.rollback()
    assert client.updates  # it did try


class ShifterWithLaggingReadBack:
    """Its rollback call returns normally, but the traffic it reads back has not moved."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def rollback(self) -> AliasReceipt:
        return AliasReceipt(weight=0.0)  # what the call claims

    def current_weight(self) -> float:
        return self.weight  # what is true


@pytest.mark.parametrize("read_back", [30.0, 0.5, 100.0])
def test_given_a_read_back_above_zero_then_the_rollback_task_fails_instead_of_reporting_verified(
        monkeypatch: pytest.MonkeyPatch, read_back: float) -> None:
    monkeypatch.setattr(canary_logic, "load_manifest", lambda deps, release: None)
    monkeypatch.setattr(canary_logic, "shifter", lambda deps, release, manifest: ShifterWithLaggingReadBack(read_back))
    with pytest.raises(RollbackVerificationFailed, match=f"{read_back}%"):
        canary_logic.rollback(None, None)  # type: ignore[arg-type]


def test_given_a_read_back_of_zero_then_verified_with_the_weight_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canary_logic, "load_manifest", lambda deps, release: None)
    monkeypatch.setattr(canary_logic, "shifter", lambda deps, release, manifest: ShifterWithLaggingReadBack(0.0))
    result = canary_logic.rollback(None, None)  # type: ignore[arg-type]
    assert result.verified and result.weight == 0.0
