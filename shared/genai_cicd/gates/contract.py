"""SchemaContract: structured output must validate against each case's JSON Schema."""

from __future__ import annotations

from genai_cicd.gates.common import GateStatus, load_cases, load_variant, write_verdict
from genai_cicd.gates.runner import run_all
from genai_cicd.gates.scorers import JsonSchemaContract
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import ReleaseManifest, SchemaContractGate
from genai_cicd.models.tasks import GateResult
from genai_cicd.ports import Artifacts
from genai_cicd.providers.base import GenerationResult, ModelProvider


def run_schema_contract(gate: SchemaContractGate, manifest: ReleaseManifest, store: Artifacts,
                        provider: ModelProvider, release_id: str, evidence_prefix: str) -> GateResult:
    all_cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(all_cases)
    cases = [(cid, c) for cid, c in zip(ids, all_cases, strict=True) if c.json_schema is not None]
    if not cases:
        return GateResult(gate="schema_contract", status="BLOCK", summary="no case declares a schema",
                          reasons=[f"{gate.dataset}: schema_contract needs cases with a 'schema'"],
                          dataset_hash=dataset_hash)
    candidate = load_variant(store, "candidate", manifest.candidate)
    jobs = [(cid, case, k) for cid, case in cases for k in range(gate.repeats)]

    def call(job: tuple[str, GoldenCase, int]) -> GenerationResult:
        cid, case, k = job
        return provider.generate(candidate.request(case.prompt, f"{release_id}:schema:{cid}:{k}"))

    outcomes, _ = run_all(jobs, call, concurrency=8)
    contract = JsonSchemaContract()
    rows = []
    valid = 0
    for o in outcomes:
        cid, case, k = o.item
        ok = o.result is not None and contract.score(case, o.result.text) == 1.0
        valid += ok
        rows.append({"case_id": cid, "repeat": k, "valid": ok, "error": o.error})
    rate = valid / len(jobs)
    reasons = [] if rate >= gate.min_valid_rate else [
        f"{len(jobs) - valid} of {len(jobs)} outputs break the contract (valid {rate:.1%} < {gate.min_valid_rate:.1%})"
    ]
    status: GateStatus = "BLOCK" if reasons else "PASS"
    store.put_jsonl(f"{evidence_prefix}/results.jsonl", rows)
    uri = write_verdict(store, evidence_prefix, "schema_contract", status, reasons, valid_rate=rate)
    return GateResult(gate="schema_contract", status=status, summary=f"valid structured outputs {rate:.1%}",
                      reasons=reasons, report_uri=uri, dataset_hash=dataset_hash, stats={"valid_rate": rate})
