"""The control-plane table's approval tokens and pipeline records (keys: ``aws/table_keys.py``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.aws import table_keys
from genai_cicd.ports import RecordedExecution, Tombstone


class DynamoApprovals:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._ddb = dynamodb
        self._table = table_name

    def park(self, release_id: str, task_token: str, expires_at: int) -> None:
        self._ddb.put_item(TableName=self._table, Item={**table_keys.approval(release_id),
                                                        "task_token": {"S": task_token},
                                                        "expiration": {"N": str(expires_at)}})

    def token(self, release_id: str) -> str | None:
        item = self._ddb.get_item(TableName=self._table, Key=table_keys.approval(release_id),
                                  ConsistentRead=True).get("Item")
        return str(item["task_token"]["S"]) if item else None

    def forget(self, release_id: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=table_keys.approval(release_id))


class DynamoPipelineRecords:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._ddb = dynamodb
        self._table = table_name

    def record_execution(self, pipeline: str, execution_id: str, execution_name: str, execution_arn: str,
                         attempt: int, approval_token: str | None) -> None:
        item = {**table_keys.pipeline_execution(pipeline, execution_id, execution_name),
                "execution_arn": {"S": execution_arn}, "attempt": {"N": str(attempt)}}
        if approval_token:
            item["approval_token"] = {"S": approval_token}
        self._ddb.put_item(TableName=self._table, Item=item)

    def executions(self, pipeline: str, execution_id: str) -> list[RecordedExecution]:
        items = self._ddb.query(
            TableName=self._table, KeyConditionExpression="pk = :pk AND begins_with(sk, :exec)",
            ExpressionAttributeValues={":pk": {"S": table_keys.pipeline_pk(pipeline, execution_id)},
                                       ":exec": {"S": table_keys.PIPELINE_EXECUTION}},
            ConsistentRead=True,
        ).get("Items", [])
        return [RecordedExecution(arn=str(item["execution_arn"]["S"]),
                                  attempt=int(item.get("attempt", {}).get("N", "1")),
                                  approval_token=item.get("approval_token", {}).get("S")) for item in items]

    def bury(self, pipeline: str, execution_id: str, state: str, attempt: int, expires_at: int) -> None:
        try:
            self._ddb.put_item(TableName=self._table, Item={
                **table_keys.pipeline_tombstone(pipeline, execution_id), "state": {"S": state},
                "attempt": {"N": str(attempt)}, "expiration": {"N": str(expires_at)}},
                # a late event of an older attempt never lowers the attempt already buried
                ConditionExpression="attribute_not_exists(#a) OR #a <= :a",
                ExpressionAttributeNames={"#a": "attempt"}, ExpressionAttributeValues={":a": {"N": str(attempt)}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def tombstone(self, pipeline: str, execution_id: str) -> Tombstone | None:
        item = self._ddb.get_item(TableName=self._table, ConsistentRead=True,
                                  Key=table_keys.pipeline_tombstone(pipeline, execution_id)).get("Item")
        if not item:
            return None
        return Tombstone(state=str(item["state"]["S"]), attempt=int(item.get("attempt", {}).get("N", "1")))
