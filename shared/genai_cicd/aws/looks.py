"""Gate looks: every run of a gate on one candidate, counted so re-runs spend alpha.

A candidate is identified by its content (``ReleaseContext.candidate_hash``: prompt
hash, model, inference parameters, guardrail, code), not by the release that carries
it, so releasing the same candidate again under a new name is still a re-run.
Items live in the control-plane table under ``LOOKS#<app>#<env>#<candidate hash>``,
one per (gate, release); recording is idempotent, so a retried Lambda keeps its number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd import clock as clock_seam
from genai_cicd.aws import table_keys


class GateLooks:
    def __init__(self, dynamodb: Any, table_name: str, clock: Callable[[], float] = clock_seam.now) -> None:
        self._ddb = dynamodb
        self._table = table_name
        self._clock = clock

    @staticmethod
    def _pk(app: str, environment: str, candidate_hash: str) -> str:
        return table_keys.looks_pk(app, environment, candidate_hash)

    def record(self, app: str, environment: str, candidate_hash: str, gate: str, release_id: str) -> int:
        """Record this release's run of ``gate``; return its 1-based number among all runs so far."""
        pk = self._pk(app, environment, candidate_hash)
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={**table_keys.looks_run(app, environment, candidate_hash, gate, release_id), "gate": {"S": gate},
                      "release_id": {"S": release_id}, "at": {"N": f"{self._clock():.6f}"}},
                ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        runs: list[tuple[float, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": table_keys.looks_run_prefix(gate)}},
            "ProjectionExpression": "release_id, #at", "ExpressionAttributeNames": {"#at": "at"},
        }
        while True:
            page = self._ddb.query(**kwargs)
            runs += [(float(i["at"]["N"]), i["release_id"]["S"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        ordered = [release for _, release in sorted(runs)]
        return ordered.index(release_id) + 1
