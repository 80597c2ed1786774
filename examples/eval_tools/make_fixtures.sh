#!/usr/bin/env bash
# Regenerate the eval-tool fixtures by running the real tools on cases.jsonl (network needed once).
# The model behind every tool is the simulated one (sim_answer.py): baseline prompt v1, candidate
# v3-trimmed, temperature 0.7. Versions used for the committed files: promptfoo 0.121.20 (Node 20),
# deepeval 4.3.1 and inspect-ai 0.3.285 (Python 3.11), on 2026-11-30.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PYTHONPATH="$root/shared"

# promptfoo: both variants in one run, 3 repeats, its own JSON output
(cd "$work" && npm init -y >/dev/null && npm install --silent promptfoo@0.121.20)
(cd "$here" && PROMPTFOO_PYTHON="$root/.venv/bin/python" PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 \
  "$work/node_modules/.bin/promptfoo" eval -c promptfooconfig.yaml --repeat 3 --no-cache --no-progress-bar \
  -o "$here/promptfoo-results.json")

# DeepEval: one test run per arm, 3 repeats, the test-run JSON it saves
python3 -m venv "$work/deepeval" && "$work/deepeval/bin/pip" install --quiet deepeval==4.3.1
for arm in baseline candidate; do
  mkdir -p "$work/de-$arm"
  (cd "$here" && ARM=$arm DEEPEVAL_RESULTS_FOLDER="$work/de-$arm" DEEPEVAL_TELEMETRY_OPT_OUT=YES \
    "$work/deepeval/bin/deepeval" test run deepeval_support_bot.py --repeat 3 -p no:cacheprovider) || true  # failing tests are data
  cp "$work"/de-$arm/*.json "$here/deepeval-$arm.json"
done
rm -rf "$here/.deepeval"

# Inspect AI: one log per arm, 3 epochs, as JSON; and the candidate's default .eval log
python3 -m venv "$work/inspect" && "$work/inspect/bin/pip" install --quiet inspect-ai==0.3.285
(cd "$here" && "$work/inspect/bin/python" inspect_support_bot.py "$work/inspect-logs")
for f in "$work"/inspect-logs/*.json; do
  arm=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['eval']['model'].split('/')[1])" "$f")
  cp "$f" "$here/inspect-$arm.json"
done
(cd "$here" && "$work/inspect/bin/python" -c "
import inspect_support_bot as m
from inspect_ai import eval
eval(m.support_bot(), model='sim/candidate', log_dir='$work/inspect-eval', display='none', max_connections=1)")
cp "$work"/inspect-eval/*.eval "$here/inspect-candidate.eval"
find "$here" -name __pycache__ -prune -exec rm -rf {} +
