"""One release at a time per (app, environment): a DynamoDB lease with expiry.

The holder re-acquiring is a no-op (retries are safe). A lease whose holder
died is taken over: at once when the caller can tell the holder's execution
has ended (``is_alive``), otherwise after its TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from genai_cicd import clock as clock_seam
from genai_cicd.aws import table_keys
from genai_cicd.errors import ReleaseLocked


class ReleaseLock:
    def __init__(self, dynamodb: Any, table_name: str, ttl_seconds: int, clock: Any = clock_seam.now) -> None:
        self._ddb = dynamodb
        self._table = table_name
        self._ttl = ttl_seconds
        self._clock = clock

    @staticmethod
    def _key(app: str, environment: str) -> dict[str, Any]:
        return table_keys.lock(app, environment)

    def acquire(self, app: str, environment: str, release_id: str, execution_arn: str = "",
                is_alive: Callable[[str], bool] | None = None) -> int:
        now = int(self._clock())
        expires = now + self._ttl
        item = {**self._key(app, environment), "holder": {"S": release_id}, "execution_arn": {"S": execution_arn},
                "expiration": {"N": str(expires)}, "acquired_at": {"N": str(now)}}
        try:
            self._ddb.put_item(
                TableName=self._table, Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expiration < :now OR holder = :me",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": release_id}},
            )
            return expires
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        current = self._ddb.get_item(TableName=self._table, Key=self._key(app, environment),
                                     ConsistentRead=True).get("Item") or {}
        holder = current.get("holder", {}).get("S")
        holder_arn = current.get("execution_arn", {}).get("S")
        if holder and holder_arn and is_alive is not None and not is_alive(holder_arn):
            try:  # the holder's execution has ended: take over, unless someone else just did
                self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="holder = :old",
                                   ExpressionAttributeValues={":old": {"S": holder}})
                return expires
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                holder = self.holder(app, environment)
        raise ReleaseLocked(f"{app}/{environment} is locked by release {holder or 'unknown'}; wait for it or cancel it")

    def holder(self, app: str, environment: str) -> str | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(app, environment),
                                  ConsistentRead=True).get("Item")
        if not item or int(item["expiration"]["N"]) < int(self._clock()):
            return None
        return str(item["holder"]["S"])

    def release(self, app: str, environment: str, release_id: str) -> bool:
        """Release if we hold it. False when someone else does (never steal)."""
        try:
            self._ddb.delete_item(
                TableName=self._table, Key=self._key(app, environment),
                ConditionExpression="attribute_not_exists(pk) OR holder = :me",
                ExpressionAttributeValues={":me": {"S": release_id}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
