"""What every simulated service shares: the account, the error a call returns, a response body."""

from __future__ import annotations

import io

from botocore.response import StreamingBody

ACCOUNT = "123456789012"


class BackendError(Exception):
    """An error response of the simulated service: botocore raises it to the caller as a ClientError."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class NotServed(Exception):  # noqa: N818 - a signal, not an error: the call goes on to moto
    """Raised by an operation that leaves this call to moto."""


def stream(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))
