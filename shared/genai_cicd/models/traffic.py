"""What a traffic move returns: one receipt type per mechanism (aws/traffic.py), a tagged union.

Every receipt carries the candidate's weight as read back after the move; the rest says which
AppConfig deployment or CodeDeploy deployment made it, for the ledger and the people watching.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    weight: float = Field(ge=0.0, le=100.0)  # the candidate's share of requests, in percent


class FlagReceipt(Receipt):
    mechanism: Literal["appconfig_flag"] = "appconfig_flag"
    configuration_version: int
    deployment_number: int
    stopped_deployment: int | None = None  # a rollback stopped this deployment in flight


class AliasReceipt(Receipt):
    mechanism: Literal["lambda_alias"] = "lambda_alias"


class CodeDeployReceipt(Receipt):
    mechanism: Literal["codedeploy"] = "codedeploy"
    deployment_id: str | None = None  # the deployment that moved traffic (a shift)
    status: str | None = None  # its status when the move was read back
    stopped_deployment: str | None = None  # a rollback stopped this deployment in flight


TrafficReceipt = Annotated[FlagReceipt | AliasReceipt | CodeDeployReceipt, Field(discriminator="mechanism")]
