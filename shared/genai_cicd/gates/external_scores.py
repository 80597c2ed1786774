"""PromptRegression from another tool's score files: the same verdict, no model calls.

With ``gates.prompt_regression.scores`` the gate reads the baseline's and the candidate's
result files from the bundle (promptfoo, DeepEval, Inspect AI or score lines;
``gates/eval_formats.py``) and judges each of ``scores.metrics`` exactly like its own scores:
paired non-inferiority with the candidate's confidence bound, the absolute threshold, and the
alpha of this run of the candidate (``aws/looks.py``). Every case of ``dataset`` is expected:
one the files lack, a run the tool marks as an error, or a metric missing for a case counts
against the candidate.
"""

from __future__ import annotations

from genai_cicd.errors import InvalidInput
from genai_cicd.gates.common import GateStatus, load_cases, write_verdict
from genai_cicd.gates.compare import compare_rows
from genai_cicd.gates.eval_formats import Row, rows_from
from genai_cicd.gates.noninferiority import MetricVerdict, alpha_for_run
from genai_cicd.models.dataset import GoldenCase, case_ids
from genai_cicd.models.manifest import PromptRegressionGate
from genai_cicd.models.tasks import GateResult
from genai_cicd.ports import Artifacts


def judge_external_scores(gate: PromptRegressionGate, store: Artifacts, evidence_prefix: str,
                          run: int = 1) -> GateResult:
    if gate.scores is None:
        raise ValueError("judge_external_scores needs gates.prompt_regression.scores")
    ext = gate.scores
    cases, dataset_hash = load_cases(store, gate.dataset, GoldenCase)
    ids = case_ids(cases)
    alpha = alpha_for_run(gate.alpha, run)
    reasons: list[str] = []
    verdicts: list[MetricVerdict] = []
    try:
        base = rows_from(ext.baseline, store.read_bytes(ext.baseline), ext.format, ext.baseline_variant, "baseline")
        cand = rows_from(ext.candidate, store.read_bytes(ext.candidate), ext.format, ext.candidate_variant,
                         "candidate")
    except InvalidInput as exc:
        base, cand = [], []
        reasons.append(f"the score files cannot be judged: {exc}")
    present = {case for case, _, _ in base + cand}
    absent = [cid for cid in ids if cid not in present]
    extra = sorted(present - set(ids))
    # A dataset case no file has: a missing score in both arms, which counts against the candidate.
    filler: list[Row] = [(cid, 0, None) for cid in absent]
    if base or cand:
        for metric, policy in ext.metrics.items():
            try:
                judged = compare_rows(base + filler, cand + filler, metric=metric, margin=policy.margin, alpha=alpha,
                                      threshold=policy.threshold)
            except InvalidInput as exc:
                reasons.append(f"{metric}: {exc}")
                continue
            (v,) = judged["metrics"]
            verdict = MetricVerdict.model_validate({k: x for k, x in v.items() if k != "unpaired_cases"})
            verdicts.append(verdict)
            if verdict.decision != "pass":
                reasons.append(f"{metric}: {verdict.reason}")
    if absent:
        reasons.append(f"{len(absent)} of {len(ids)} dataset cases are absent from the score files "
                       f"({', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}); they count against the "
                       "candidate")
    # Every reason blocks: a metric not shown non-inferior, an absent case, a file or metric that
    # could not be judged. An incomplete run never passes.
    status: GateStatus = "BLOCK" if reasons or len(verdicts) < len(ext.metrics) else "PASS"
    rows = [{"arm": arm, "case_id": case, "repeat": repeat, "scores": scores, "error": None if scores else
             "the tool recorded no score", "output": None} for arm, arm_rows in (("baseline", base),
                                                                                 ("candidate", cand))
            for case, repeat, scores in arm_rows]
    store.put_jsonl(f"{evidence_prefix}/outputs.jsonl", rows)
    uri = write_verdict(
        store, evidence_prefix, "prompt_regression", status, reasons,
        source=ext.model_dump(mode="json", exclude={"metrics"}), dataset=gate.dataset, dataset_hash=dataset_hash,
        cases=len(ids), absent_cases=absent, cases_outside_dataset=extra, sequential={"run": run, "alpha": alpha},
        metrics=[v.model_dump(mode="json") for v in verdicts])
    summary = "; ".join(f"{v.metric} {v.decision} (cand {v.candidate_mean:.3f} vs base {v.baseline_mean:.3f}, "
                        f"lower bound {v.lower_bound:+.3f})" for v in verdicts) or "no metric could be judged"
    return GateResult(
        gate="prompt_regression", status=status, summary=f"from {ext.format or 'a'} score file: {summary}"[:2000],
        reasons=reasons[:50], report_uri=uri, dataset_hash=dataset_hash,
        stats={"cases": len(ids), "absent_cases": len(absent), "run": run, "alpha": alpha, "model_calls": 0,
               "metrics": {v.metric: {"decision": v.decision, "baseline_mean": round(v.baseline_mean, 4),
                                      "candidate_mean": round(v.candidate_mean, 4),
                                      "lower_bound": round(v.lower_bound, 4)} for v in verdicts}})
