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
