"""The demo's outcomes with and without CPU-bound processes beside it (issue 26).

    python bench/demo_under_load.py --runs 5 --burners 4

Runs `genai-cicd demo --quiet` ``--runs`` times quietly and ``--runs`` times with ``--burners``
busy-looping processes on the same cores, and prints, per run, each release's outcome,
``decided_on``, ``decided_by_stream`` and simulated minutes, the wall time, and whether every
run agrees with the first. The release reports of the same seed are compared byte for byte, with
one mask: the injection suite's canary tokens, which the gate draws from ``secrets`` each run by
design (a token the model could predict would prove nothing), appear in leaked answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANARY_TOKEN = re.compile(rb"CANARY-[0-9A-F]{12}")


def burn(stop: object) -> None:
    while not stop.is_set():  # type: ignore[attr-defined]
        sum(i * i for i in range(10_000))


def masked(path: Path) -> bytes:
    return CANARY_TOKEN.sub(b"CANARY-<per-run>", path.read_bytes())


def one_run(keep: Path | None = None) -> dict[str, object]:
    began = time.monotonic()
    subprocess.run([str(ROOT / ".venv/bin/genai-cicd"), "demo", "--quiet"], cwd=ROOT, check=False,
                   stdout=subprocess.DEVNULL)
    summary = json.loads((ROOT / "reports/demo-summary.json").read_text())
    reports = sorted((ROOT / "reports/releases").glob("demo-*"))
    digest = hashlib.sha256(b"".join(masked(p) for p in reports)).hexdigest()[:16]
    files = {p.name: hashlib.sha256(masked(p)).hexdigest()[:12] for p in reports}
    if keep is not None:  # a copy of this run's reports, to diff runs that disagree
        keep.mkdir(parents=True, exist_ok=True)
        for p in reports:
            (keep / p.name).write_bytes(p.read_bytes())
    return {"wall_s": round(time.monotonic() - began, 1), "reports_sha256": digest, "files": files,
            "releases": [(r["scenario"], r["outcome"], r["decided_on"], r["decided_by_stream"],
                          round(r["simulated_seconds"] / 60, 1)) for r in summary["releases"]]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--burners", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="copy each run's reports under this folder")
    args = parser.parse_args()
    results = []
    for loaded in (False, True):
        for n in range(args.runs):
            stop = multiprocessing.Event()
            burners = [multiprocessing.Process(target=burn, args=(stop,)) for _ in range(args.burners if loaded else 0)]
            for b in burners:
                b.start()
            try:
                run = one_run(args.keep / f"{'loaded' if loaded else 'quiet'}-{n + 1}" if args.keep else None)
            finally:
                stop.set()
                for b in burners:
                    b.join()
            run["loaded"] = loaded
            results.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "files"}), flush=True)
    first = results[0]
    same = all(r["releases"] == first["releases"] for r in results)
    same_reports = all(r["reports_sha256"] == first["reports_sha256"] for r in results)
    walls = sorted(float(str(r["wall_s"])) for r in results if not r["loaded"])
    loaded_walls = sorted(float(str(r["wall_s"])) for r in results if r["loaded"])
    differing = sorted({name for r in results for name, h in dict(r["files"]).items()  # type: ignore[call-overload]
                        if dict(first["files"]).get(name) != h})  # type: ignore[call-overload]
    if differing:
        print(f"report files that differ between runs: {', '.join(differing)}")
    print(f"\nruns: {len(results)}; same outcomes, decided_on, stream and simulated minutes in every run: {same}; "
          f"identical reports: {same_reports}; median wall s quiet {walls[len(walls) // 2]}, "
          f"loaded ({args.burners} burners) {loaded_walls[len(loaded_walls) // 2]}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
