"""Formats of the AWS identifiers our inputs carry, as the service API references define them.

Checked where they enter (events, manifests, CLI options) so a mistyped id is refused at once,
naming the field, instead of failing later inside an AWS call or, worse, matching nothing.
The patterns are those of the CodePipeline API reference (``PipelineName``,
``PipelineExecutionId``; the same strings are in botocore's service model).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

PIPELINE_NAME = r"^[A-Za-z0-9.@\-_]{1,100}$"
PIPELINE_EXECUTION_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

PipelineName = Annotated[str, Field(pattern=PIPELINE_NAME)]
PipelineExecutionId = Annotated[str, Field(pattern=PIPELINE_EXECUTION_ID)]


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern.strip("^$"), value) is not None

# Step Functions ARNs (the Step Functions API reference: Arn, a state machine's or an execution's name is
# 1 to 80 characters); any partition (aws, aws-cn, aws-us-gov).
STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:\s]{1,80}$"
EXECUTION_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}$"

ExecutionArn = Annotated[str, Field(pattern=EXECUTION_ARN)]

# Bedrock: a guardrail is named by its id or ARN (GuardrailIdentifier in the Bedrock Runtime API reference);
# a model id, inference profile or model ARN uses only letters, digits and . _ : / - (ConversationalModelId:
# every alternative of its pattern is made of those characters).
GUARDRAIL_IDENTIFIER = r"^([a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$"
MODEL_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,2047}$"
