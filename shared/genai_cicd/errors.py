"""Domain errors.

The class name is the ``errorType`` Step Functions sees, so the state machine
can Catch them by name (``ErrorEquals: ["ReleaseLocked"]``). Transient AWS
errors are not wrapped: they surface as themselves and are retried by the ASL.
"""

import json

from genai_cicd.shorten import shorten


class GenAICicdError(Exception):
    """Base class of every domain error."""


class InvalidInput(GenAICicdError):
    """An event, manifest, dataset or config failed validation. Nothing was changed."""


class ManifestInvalid(InvalidInput):
    """The release manifest failed validation."""


class DatasetInvalid(InvalidInput):
    """A golden dataset or suite file failed validation."""


class ReleaseLocked(GenAICicdError):
    """Another release holds the lock for this app and environment."""


class ReleaseFenced(GenAICicdError):
    """The release lost its lock (cancelled or reconciled): it may no longer move traffic."""


class ArtifactUnreadable(GenAICicdError):
    """An artifact could not be read from S3 (ArtifactStore.read_json_counted): the reader counts it, never skips it."""


class GateError(GenAICicdError):
    """A gate could not produce a verdict (counted as a block, never a pass)."""


class TrafficShiftError(GenAICicdError):
    """Traffic could not be moved or the read-back did not match."""


class RollbackVerificationFailed(TrafficShiftError):
    """After a rollback the candidate still receives traffic."""


class TransientAwsError(GenAICicdError):
    """AWS throttled the call, failed it with a 5xx or timed out: the state machine retries the task.

    (A throttle of a service whose API model declares no ThrottlingException reaches the handler as a
    plain botocore ClientError, which no Retry can name; adapters that must be retried say so.)"""


def domain_message(cause: object, limit: int = 500) -> str:
    """What a failure may say outside the function's own log: the error's type and message.

    Step Functions passes a Lambda error's Cause as the runtime's JSON (errorType,
    errorMessage, stackTrace, requestId); reports, SNS, the ledger and the pipeline's
    approval summary get only "errorType: errorMessage". Anything else is kept as text.
    """
    text = str(cause)
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return shorten(text, limit)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        kind = str(parsed.get("errorType") or "Error")
        return shorten(f"{kind}: {parsed['errorMessage']}", limit)
    return shorten(text, limit)
