"""The audit ledger in DynamoDB: an append-only, hash-chained history per release.

Appends use a conditional write on the next sequence number, so two writers can never both claim
the same position and nothing is overwritten. What the chain proves, what anchors it and how it is
verified: models/ledger.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd import clock as clock_seam
from genai_cicd.aws import table_keys
from genai_cicd.models.ledger import GENESIS, LedgerEntry, entry_hash


class Ledger:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._ddb = dynamodb
        self._table = table_name

    @staticmethod
    def _pk(release_id: str) -> str:
        return table_keys.ledger_pk(release_id)

    def entries(self, release_id: str) -> list[LedgerEntry]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entry)",
            "ExpressionAttributeValues": {":pk": {"S": self._pk(release_id)}, ":entry": {"S": table_keys.LEDGER_ENTRY}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [
            LedgerEntry(
                release_id=release_id, seq=int(i["seq"]["N"]), event=i["event"]["S"], at=i["at"]["S"],
                actor=i["actor"]["S"], detail=json.loads(i["detail"]["S"]), prev_hash=i["prev_hash"]["S"],
                hash=i["hash"]["S"],
            )
            for i in items
        ]

    def head(self, release_id: str) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) before the first."""
        return self._last(release_id)

    def _last(self, release_id: str) -> tuple[int, str]:
        page = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :entry)",
            ExpressionAttributeValues={":pk": {"S": self._pk(release_id)}, ":entry": {"S": table_keys.LEDGER_ENTRY}},
            ScanIndexForward=False, Limit=1, ConsistentRead=True,
        )
        items = page.get("Items", [])
        if not items:
            return 0, GENESIS
        return int(items[0]["seq"]["N"]), items[0]["hash"]["S"]

    def append(self, release_id: str, event: str, actor: str, detail: dict[str, Any],
               attempts: int = 5) -> LedgerEntry:
        for _ in range(attempts):
            seq, prev = self._last(release_id)
            seq += 1
            at = clock_seam.utc_now().isoformat(timespec="milliseconds")
            digest = entry_hash(release_id, seq, event, at, actor, detail, prev)
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        **table_keys.ledger_entry(release_id, seq),
                        "seq": {"N": str(seq)}, "event": {"S": event}, "at": {"S": at}, "actor": {"S": actor},
                        "detail": {"S": json.dumps(detail, sort_keys=True, default=str)},
                        "prev_hash": {"S": prev}, "hash": {"S": digest},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    time.sleep(0.01)
                    continue  # another writer took this seq; read again
                raise
            return LedgerEntry(release_id=release_id, seq=seq, event=event, at=at, actor=actor, detail=detail,
                               prev_hash=prev, hash=digest)
        raise RuntimeError(f"ledger append for {release_id} lost {attempts} races in a row")
