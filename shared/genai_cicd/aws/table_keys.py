"""The control-plane table's key schema, in one place (one DynamoDB table, ``pk`` / ``sk`` strings).

- release lock: ``LOCK#<app>#<environment>`` / ``LOCK`` (``aws/lock.py``)
- ledger entry: ``RELEASE#<release>`` / ``ENTRY#<seq:06d>`` (``aws/ledger.py``)
- gate run, for alpha spending: ``LOOKS#<app>#<environment>#<candidate hash>`` / ``RUN#<gate>#<release>``
  (``aws/looks.py``)
- approval task token: ``APPROVAL#<release>`` / ``TOKEN`` (``aws/control_table.py``)
- a pipeline execution's release: ``PIPELINE#<pipeline>#<execution id>`` / ``EXEC#<execution name>``
  (``aws/control_table.py``)
- pipeline tombstone: ``PIPELINE#<pipeline>#<execution id>`` / ``CANCELLED`` (``aws/control_table.py``)
- StartRelease idempotency: Powertools' records, ``idempotency#<function name>`` / the hashed event key
  (``functions/start_release``: ``key_attr="pk", sort_key_attr="sk"``)

Items that should not outlive their use carry ``expiration`` (epoch seconds), the table's TTL
attribute: locks, approval tokens, tombstones, idempotency records.
"""

from __future__ import annotations

from typing import Any

Key = dict[str, Any]


def _key(pk: str, sk: str) -> Key:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def lock(app: str, environment: str) -> Key:
    return _key(f"LOCK#{app}#{environment}", "LOCK")


def ledger_pk(release_id: str) -> str:
    return f"RELEASE#{release_id}"


LEDGER_ENTRY = "ENTRY#"


def ledger_entry(release_id: str, seq: int) -> Key:
    return _key(ledger_pk(release_id), f"{LEDGER_ENTRY}{seq:06d}")


def looks_pk(app: str, environment: str, candidate_hash: str) -> str:
    return f"LOOKS#{app}#{environment}#{candidate_hash}"


def looks_run_prefix(gate: str) -> str:
    return f"RUN#{gate}#"


def looks_run(app: str, environment: str, candidate_hash: str, gate: str, release_id: str) -> Key:
    return _key(looks_pk(app, environment, candidate_hash), f"{looks_run_prefix(gate)}{release_id}")


def approval(release_id: str) -> Key:
    return _key(f"APPROVAL#{release_id}", "TOKEN")


def pipeline_pk(pipeline: str, execution_id: str) -> str:
    return f"PIPELINE#{pipeline}#{execution_id}"


PIPELINE_EXECUTION = "EXEC#"


def pipeline_execution(pipeline: str, execution_id: str, execution_name: str) -> Key:
    return _key(pipeline_pk(pipeline, execution_id), f"{PIPELINE_EXECUTION}{execution_name}")


def pipeline_tombstone(pipeline: str, execution_id: str) -> Key:
    return _key(pipeline_pk(pipeline, execution_id), "CANCELLED")
