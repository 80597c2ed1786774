"""The released app's functions: registration tags (Lambda, CodeDeploy) and probe invocations."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genai_cicd.ports import Registration, TargetUnavailable


class LambdaAppFunctions:
    def __init__(self, lam: Any, codedeploy: Any) -> None:
        self._lambda = lam
        self._codedeploy = codedeploy

    def registration(self, function_name: str) -> Registration:
        try:
            function = self._lambda.get_function(FunctionName=function_name)
        except ClientError as exc:
            raise TargetUnavailable(exc.response.get("Error", {}).get("Code", "not readable")) from None
        return Registration(arn=function["Configuration"]["FunctionArn"], tags=function.get("Tags") or {})

    def deployment_group_tags(self, group_arn: str) -> dict[str, str]:
        tags = self._codedeploy.list_tags_for_resource(ResourceArn=group_arn).get("Tags") or []
        return {t["Key"]: t["Value"] for t in tags}

    def invoke(self, function_name: str, payload_json: str) -> bool:
        response = self._lambda.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                       Payload=payload_json.encode())
        response["Payload"].read()  # the answer is captured by the app, never read or logged here
        # Lambda API Reference, Invoke: FunctionError is present only when the function errored.
        return "FunctionError" not in response
