"""Layer sizes and cold import time per function, measured on a `sam build` output.

    python bench/layer_imports.py --build .aws-sam/build --python ~/.pyenv/versions/3.13.0/bin/python3 --runs 7

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=Path(".aws-sam/build"), help="sam build's output folder")
    parser.add_argument("--python", default=sys.executable, help="the runtime's Python (3.13)")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function (median)")
    args = parser.parse_args()

    args.build = args.build.resolve()
    template = yaml.load((args.build / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    resources = template["Resources"]
    layers = {name: args.build / name for name, r in resources.items()
              if r["Type"] == "AWS::Serverless::LayerVersion"}
    global_layers = [_ref(x) for x in template.get("Globals", {}).get("Function", {}).get("Layers", [])]

    print("| layer | unzipped MB | forbidden content |")
    print("|---|---:|---|")
    for name, path in sorted(layers.items()):
        bad = [f for f in FORBIDDEN if (path / "python" / f).exists()]
        print(f"| {name} | {size_mb(path):.1f} | {', '.join(bad) or 'none'} |")

    print()
    print(f"| function | layers | import app, ms (median of {args.runs}) |")
    print("|---|---|---:|")
    for name, r in sorted(resources.items()):
        if r["Type"] != "AWS::Serverless::Function":
            continue
        own = r["Properties"].get("Layers")
        names = [n for n in ([_ref(x) for x in own] if own is not None else global_layers) if n in layers]
        function_dir = args.build / name
        runs = [import_us(args.python, function_dir, [layers[n] for n in names]) for _ in range(args.runs)]
        print(f"| {name} | {', '.join(names)} | {statistics.median(runs) / 1000:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
