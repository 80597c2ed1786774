"""Layer sizes and cold import time per function, measured on a `sam build` output.

    make bench-layers RUNTIME_PYTHON=/path/to/python3.13     (builds the stacks, then runs:)
    python bench/layer_imports.py --build before=.aws-sam/bench/before --build after=.aws-sam/bench/after \
        --python /path/to/python3.13 --runs 7

For each function of the built template: which layers it attaches, their unzipped size, and the
time of `import app` in a fresh interpreter (`python -X importtime`, the cumulative microseconds
of the handler module, median of --runs runs) with the function's code and its layers on the
path, as Lambda lays them out (/var/task, then /opt/python). The interpreter must be the runtime's
Python (3.13): the layers hold cp313 wheels. Also checks that no layer ships the simulator, the
CLI or moto.

What this measures: the module imports of a cold start on this machine, not Lambda's own init
(downloading the code, starting the runtime); ratios between functions and between builds carry
over, absolute times do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

# Environment the functions read at import (template.yaml Globals), with placeholder values.
IMPORT_ENV = {
    "POWERTOOLS_SERVICE_NAME": "genai-cicd", "POWERTOOLS_METRICS_NAMESPACE": "GenAICicd",
    "POWERTOOLS_LOG_LEVEL": "INFO", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "TABLE_NAME": "t", "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "ARTIFACT_BUCKET": "b",
    "EVENT_BUS_NAME": "e", "DEFAULTS_PARAMETER": "/p",
}
# Folders and packages that must never be in a layer.
FORBIDDEN = ("genai_cicd_local", "moto", "genai_cicd/embedded", "genai_cicd/cli")


class _Loader(yaml.SafeLoader):
    """Reads a CloudFormation template: intrinsic functions (!Ref, !Sub, ...) become plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    return loader.construct_scalar(node) if suffix == "Ref" and isinstance(node, yaml.ScalarNode) else None


_Loader.add_multi_constructor("!", _intrinsic)


def _ref(value: object) -> object:
    """A layer reference as written in the template (!Ref X or {"Ref": X}) to the layer's name."""
    return value.get("Ref") if isinstance(value, dict) else value


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def import_us(python: str, function_dir: Path, layer_dirs: list[Path]) -> int:
    """Cumulative import time of the handler module, in microseconds, from one fresh interpreter."""
    path = os.pathsep.join([str(function_dir)] + [str(d / "python") for d in layer_dirs])
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1",
           **IMPORT_ENV}
    out = subprocess.run([python, "-X", "importtime", "-c", "import app"], env=env, cwd=function_dir,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"import app failed in {function_dir}: {out.stderr[-2000:]}")
    for line in reversed(out.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "app":
            return int(parts[1])
    raise RuntimeError(f"no import line for app in {function_dir}")


def layers_of(build: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """The built layers, and each function's layers (Globals first, then its own: SAM adds lists)."""
    template = yaml.load((build / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    resources = template["Resources"]
    layers = {n: build / n for n, r in resources.items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    global_layers = [_ref(x) for x in (template.get("Globals", {}).get("Function", {}).get("Layers") or [])]
    functions = {}
    for name, r in resources.items():
        if r["Type"] == "AWS::Serverless::Function":
            own = [_ref(x) for x in r["Properties"].get("Layers") or []]
            functions[name] = [str(n) for n in dict.fromkeys(global_layers + own) if n in layers]
    return layers, functions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", required=True, metavar="LABEL=PATH",
                        help="a sam build output folder and its label (repeat to compare builds)")
    parser.add_argument("--python", default=sys.executable, help="the runtime's Python (3.13)")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function (median)")
    args = parser.parse_args()
    builds = {label: Path(path).resolve() for label, _, path in (b.partition("=") for b in args.build)}

    print("| build | layer | unzipped MB | .py files | forbidden content |")
    print("|---|---|---:|---:|---|")
    parsed = {}
    for label, build in builds.items():
        layers, functions = layers_of(build)
        parsed[label] = (layers, functions)
        for name, path in sorted(layers.items()):
            bad = [f for f in FORBIDDEN if (path / "python" / f).exists()]
            files = sum(1 for _ in path.rglob("*.py"))
            print(f"| {label} | {name} | {size_mb(path):.1f} | {files} | {', '.join(bad) or 'none'} |")

    labels = list(builds)
    print()
    print(f"`import app` per function, ms, median of {args.runs} fresh interpreters (runs interleaved across builds):")
    print()
    ratio = f" {labels[-1]} / {labels[0]} |" if len(labels) > 1 else ""
    print("| function | layers (" + labels[-1] + ") | " + " | ".join(labels) + " |" + ratio)
    print("|---|---|" + "---:|" * len(labels) + ("---:|" if ratio else ""))
    names = sorted(set.intersection(*(set(f) for _, f in parsed.values())))
    for name in names:
        runs: dict[str, list[int]] = {label: [] for label in labels}
        for _ in range(args.runs):
            for label in labels:
                layers, functions = parsed[label]
                runs[label].append(import_us(args.python, builds[label] / name,
                                             [layers[n] for n in functions[name]]))
        medians = [statistics.median(runs[label]) / 1000 for label in labels]
        cells = " | ".join(f"{m:.0f}" for m in medians)
        extra = f" {medians[-1] / medians[0]:.2f} |" if ratio else ""
        print(f"| {name} | {', '.join(parsed[labels[-1]][1][name])} | {cells} |{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
