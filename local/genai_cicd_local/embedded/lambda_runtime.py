"""EmbeddedLambdaRuntime: run the template's handlers in-process under moto.

moto's no-Docker Lambda backend answers every invoke with an echo; this
module replaces that one method (``LambdaSimpleBackend.invoke``, the hook
point docs/EMBEDDED.md names) so the function's Handler is imported from its
CodeUri and called with a Lambda-like context. The handler's own boto3
calls hit moto and the embedded backend. An exception becomes the
``x-amz-function-error`` header plus ``{errorType, errorMessage}``, so the
state machine's Retry/Catch match on errorType as in AWS.

What the function prints is captured per thread: EMF lines are turned into
CloudWatch metrics (what CloudWatch Logs does with EMF in AWS), and every
line is kept in a log sink that tests can scan.

Time: a function's clock is the simulated one, so its EMF datapoints are stamped with the
simulated time of the invocation (in Lambda, the function's clock is the wall clock and
Powertools stamps the same way). Request ids are drawn from the seed, per function, so a
seeded run samples the same requests every time. ``metric_batch`` gathers the EMF of many
invocations (simulated app traffic) into statistic sets per second, as CloudWatch Logs does,
and puts them once.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from genai_cicd_local.embedded.metric_ingestion import NO_DELAY, IngestionDelay, MetricIngestion

_ENV_LOCK = threading.RLock()
# A ContextVar, not a thread-local: the gate runner's worker threads inherit it.
_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("embedded_function", default=None)


def current_function() -> str | None:
    """The embedded function this code runs for (AWS calls are attributed to it), if any."""
    return _CALLER.get()


@contextmanager
def as_service() -> Iterator[None]:
    """Calls a simulated service makes itself (CodeDeploy moving an alias, Bedrock reading a dataset) are
    the service's, not the calling function's: IAM does not check them against the function's role."""
    token = _CALLER.set(None)
    try:
        yield
    finally:
        _CALLER.reset(token)


@dataclass
class FunctionSpec:
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int = 60
    memory: int = 512


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "embedded"
    _deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class ThreadLocalStdout(io.TextIOBase):
    """sys.stdout replacement: a thread inside a function writes to its own buffer."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self._local = threading.local()

    def capture(self) -> list[str]:
        buf: list[str] = []
        self._local.buf = buf
        return buf

    def release(self) -> None:
        self._local.buf = None

    def write(self, s: str) -> int:
        buf = getattr(self._local, "buf", None)
        if buf is not None:
            buf.append(s)
            return len(s)
        return self.real.write(s)

    def flush(self) -> None:
        self.real.flush()


_PROXY: ThreadLocalStdout | None = None


def _install_stdout() -> ThreadLocalStdout:
    """One proxy per process: loggers bind their stream once, so every runtime must share it."""
    global _PROXY
    if _PROXY is None:
        _PROXY = ThreadLocalStdout(sys.stdout)
    elif sys.stdout is not _PROXY:
        _PROXY.real = sys.stdout  # a test runner replaced stdout since: write through to the new one
    real = sys.stdout
    sys.stdout = _PROXY
    # Loggers created before the proxy (Powertools binds its stream at creation) follow it.
    for obj in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for h in getattr(obj, "handlers", []):
            if isinstance(h, logging.StreamHandler) and h.stream is real and real is not _PROXY:
                h.setStream(_PROXY)
    return _PROXY


SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, metric, dimensions


class EmbeddedLambdaRuntime:
    def __init__(self, region: str, log_sink: list[dict[str, Any]],
                 clock: Callable[[], float] = time.time, seed: int = 7,
                 ingestion_delay: IngestionDelay = NO_DELAY) -> None:
        self.region = region
        self._clock = clock
        self._seed = seed
        # CloudWatch's side of EMF: late and sometimes twice (embedded/metric_ingestion.py)
        self.ingestion = MetricIngestion(ingestion_delay, clock, self._put_into_cloudwatch, seed)
        self._batch: dict[tuple[Any, ...], list[Any]] | None = None
        self._batch_dups: dict[tuple[Any, ...], list[Any]] = {}
        # (namespace, metric, dimensions) -> [(second, values)] as they became visible: for the statistics
        # a statistic set cannot give (services/cloudwatch.py)
        self.extracted_values: dict[SeriesKey, list[tuple[float, tuple[float, ...]]]] = {}
        self._batch_owner: int | None = None
        self.functions: dict[str, FunctionSpec] = {}
        self._modules: dict[str, ModuleType] = {}
        self.log_sink = log_sink
        self.invocations: dict[str, int] = {}
        self.in_flight = 0  # handlers running now (a stopped execution's last task may still be running)
        self.busy_seconds: dict[str, float] = {}
        self.stdout = _install_stdout()
        self._lock = threading.Lock()
        # One instance per function: Lambda never runs two invocations in one process at a time, and
        # module state (Powertools' metrics buffer, a warm client's cache) relies on that.
        self._instances: dict[str, threading.Lock] = {}

    def register(self, spec: FunctionSpec) -> None:
        self.functions[spec.name] = spec

    def knows(self, function_name: str) -> bool:
        try:
            self.spec_for(function_name)
        except KeyError:
            return False
        return True

    def spec_for(self, function_name: str) -> FunctionSpec:
        name = function_name.split(":function:")[-1].split(":")[0] if ":" in function_name else function_name
        if name not in self.functions:
            raise KeyError(f"function {function_name} is not registered in the embedded runtime")
        return self.functions[name]

    def preload(self) -> None:
        """Import every function now, while one thread runs: an import swaps os.environ to the
        function's environment, which a concurrent boto3 client creation must never see."""
        for spec in list(self.functions.values()):
            self._module(spec)

    def _module(self, spec: FunctionSpec) -> ModuleType:
        with self._lock:
            module = self._modules.get(spec.name)
            if module is not None:
                return module
            module_file, _, _ = spec.handler.rpartition(".")
            path = spec.code_dir / f"{module_file.replace('.', '/')}.py"
            unique = f"genai_cicd_fn_{spec.name.replace('-', '_')}"
            loader_spec = importlib.util.spec_from_file_location(unique, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(loader_spec)
            with _ENV_LOCK:
                saved = dict(os.environ)
                os.environ.update(spec.environment)
                try:
                    loader_spec.loader.exec_module(module)
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
            self._detach_from_root()
            self._modules[spec.name] = module
            return module

    def _ensure_stdout(self) -> None:
        """Someone (a test runner's capture) replaced sys.stdout: wrap the new one again."""
        if sys.stdout is not self.stdout:
            self.stdout.real = sys.stdout
            sys.stdout = self.stdout

    def _detach_from_root(self) -> None:
        """Function loggers write to the captured stdout only, as in Lambda (not to the CLI's root logger)."""
        for obj in logging.Logger.manager.loggerDict.values():
            for h in getattr(obj, "handlers", []):
                if isinstance(h, logging.StreamHandler) and h.stream is self.stdout:
                    h.setStream(self.stdout)
                    obj.propagate = False  # type: ignore[union-attr]

    def invoke(self, function_name: str, payload: bytes | str | None) -> tuple[bytes, str | None]:
        """Run the handler; returns (payload bytes, function error or None)."""
        spec = self.spec_for(function_name)
        self._ensure_stdout()
        module = self._module(spec)
        handler = getattr(module, spec.handler.rpartition(".")[2])
        raw = payload.decode() if isinstance(payload, bytes) else (payload or "")
        event = json.loads(raw) if raw.strip() else {}
        with self._lock:
            count = self.invocations[spec.name] = self.invocations.get(spec.name, 0) + 1
            self.in_flight += 1
            instance = self._instances.setdefault(spec.name, threading.Lock())
        request_id = uuid.UUID(bytes=hashlib.sha256(f"{self._seed}\x1f{spec.name}\x1f{count}".encode()).digest()[:16],
                               version=4)
        # The remaining time is wall time: computation takes no simulated time, a timeout is about CPU.
        context = LambdaContext(spec.name, spec.arn, spec.memory, spec.timeout, aws_request_id=str(request_id),
                                _deadline=time.monotonic() + spec.timeout)
        with instance:
            return self._run(spec, handler, event, context)

    def _run(self, spec: FunctionSpec, handler: Callable[..., Any], event: Any,
             context: LambdaContext) -> tuple[bytes, str | None]:
        invoked_at = self._clock()
        buf = self.stdout.capture()
        error: str | None = None
        began = time.perf_counter()
        token = _CALLER.set(spec.name)
        try:
            result = handler(event, context)
            body = json.dumps(result, default=str).encode()
        except Exception as exc:  # noqa: BLE001 - becomes the function error, as in Lambda
            error = "Unhandled"
            body = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_exception(exc)[-3:]}).encode()
        finally:
            _CALLER.reset(token)
            self.stdout.release()
        with self._lock:
            self.in_flight -= 1
            self.busy_seconds[spec.name] = self.busy_seconds.get(spec.name, 0.0) + time.perf_counter() - began
        self._drain(spec, "".join(buf), invoked_at, context.aws_request_id)
        return body, error

    def _drain(self, spec: FunctionSpec, output: str, invoked_at: float, invocation: str = "") -> None:
        for n, line in enumerate(output.splitlines()):
            if not line.strip():
                continue
            self.log_sink.append({"function": spec.name, "line": line})
            if line.startswith("{") and '"_aws"' in line:
                try:
                    self._emf_to_metrics(json.loads(line), invoked_at,
                                         self.ingestion.duplicated(spec.name, invocation, n))
                except (ValueError, KeyError, TypeError):
                    continue

    def _emf_to_metrics(self, doc: dict[str, Any], invoked_at: float, duplicated: bool = False) -> None:
        """What CloudWatch Logs does with an EMF line: a statistic set per metric, dimension set and second.

        Stamped with the invocation's simulated second (CloudWatch's finest resolution). A duplicated line
        (at-least-once extraction) counts all its metrics twice."""
        meta = doc["_aws"]
        stamp = float(int(invoked_at))
        batching = self._batch is not None and self._batch_owner == threading.get_ident()
        line: dict[tuple[Any, ...], list[Any]] = {}
        for directive in meta["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                dimensions = tuple((d, str(doc[d])) for d in dims)
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    key = (directive["Namespace"], metric["Name"], dimensions, metric.get("Unit", "None"), stamp)
                    for v in (value if isinstance(value, list) else [value]):
                        _add(line, key, float(v))
        if batching:
            assert self._batch is not None
            _merge(self._batch, line)
            if duplicated:
                _merge(self._batch_dups, line)
        elif line:
            self.ingestion.offer(line)
            if duplicated:
                self.ingestion.offer(line, duplicate=True)

    @contextmanager
    def metric_batch(self) -> Iterator[None]:
        """EMF of the invocations made by this thread inside, put as statistic sets on the way out."""
        if self._batch_owner is not None:
            yield  # already batching (nested)
            return
        self._batch, self._batch_dups, self._batch_owner = {}, {}, threading.get_ident()
        try:
            yield
        finally:
            batch, dups = self._batch, self._batch_dups
            self._batch, self._batch_dups, self._batch_owner = None, {}, None
            if batch:
                self.ingestion.offer(batch)
            if dups:
                self.ingestion.offer(dups, duplicate=True)

    def _put_into_cloudwatch(self, data: dict[tuple[Any, ...], list[Any]]) -> None:
        """Into the embedded CloudWatch directly: extraction is CloudWatch Logs' work, not an API call
        the function makes (and moto keeps one datum per value it is sent through PutMetricData).

        The values themselves are kept beside (``extracted_values``): CloudWatch computes percentiles,
        percentile ranks and trimmed counts from the values of an EMF line, which a statistic set loses
        (served by services/cloudwatch.py)."""
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][self.region]
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        with self._lock:
            for (namespace, name, dimensions, unit, stamp), stats in data.items():
                total, low, high, count = stats[:4]
                by_namespace.setdefault(namespace, []).append({
                    "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
                    # naive UTC, as moto keeps every timestamp it parses
                    "Timestamp": datetime.fromtimestamp(stamp, tz=UTC).replace(tzinfo=None), "Unit": unit,
                    "StatisticValues": {"Sum": total, "Minimum": low, "Maximum": high, "SampleCount": count}})
                if len(stats) > 4:
                    series = self.extracted_values.setdefault((namespace, name, frozenset(dimensions)), [])
                    series.append((stamp, tuple(stats[4])))
        for namespace, datums in by_namespace.items():
            backend.put_metric_data(namespace, datums)


def _merge(into: dict[tuple[Any, ...], list[Any]], line: dict[tuple[Any, ...], list[Any]]) -> None:
    for key, stats in line.items():
        into[key] = fold(into.get(key), stats)


def fold(stats: list[Any] | None, more: list[Any]) -> list[Any]:
    """Two statistic sets of one key as one: [sum, minimum, maximum, sample count, values]."""
    if stats is None:
        return [*more[:4], list(more[4])] if len(more) > 4 else list(more)
    stats[0] += more[0]
    stats[1] = min(stats[1], more[1])
    stats[2] = max(stats[2], more[2])
    stats[3] += more[3]
    if len(stats) > 4 and len(more) > 4:
        stats[4].extend(more[4])
    return stats


def _add(into: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], value: float) -> None:
    """Fold one value into the statistic set [sum, minimum, maximum, sample count, values] under ``key``."""
    stats = into.get(key)
    if stats is None:
        into[key] = [value, value, value, 1.0, [value]]
    else:
        stats[0] += value
        stats[1] = min(stats[1], value)
        stats[2] = max(stats[2], value)
        stats[3] += 1.0
        stats[4].append(value)
