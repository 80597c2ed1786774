"""Step Functions executions and task tokens, behind ``ports.Executions``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.ports import Execution


class StepFunctionsExecutions:
    def __init__(self, sfn: Any) -> None:
        self._sfn = sfn

    def start(self, state_machine_arn: str, name: str, input_json: str) -> str | None:
        try:
            return str(self._sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                                 input=input_json)["executionArn"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return None
            raise

    def describe(self, execution_arn: str) -> Execution | None:
        try:
            d = self._sfn.describe_execution(executionArn=execution_arn)
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
        return Execution(arn=d["executionArn"], name=d["name"], status=d["status"], input=d.get("input"))

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        self._sfn.stop_execution(executionArn=execution_arn, error=error, cause=cause)

    def succeed_task(self, task_token: str, output_json: str) -> None:
        self._sfn.send_task_success(taskToken=task_token, output=output_json)

    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        self._sfn.send_task_failure(taskToken=task_token, error=error, cause=cause)
