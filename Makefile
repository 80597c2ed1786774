# The verbs of the README. Each target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SEC := .venv-sec
SEC_STAMP := $(SEC)/.installed

.PHONY: demo test test-fast browser lint typecheck sam-check data clean schemas bench bench-quick bench-layers bench-demo-load bench-late-metrics security-tools

# bash with pipefail: a failed pip install fails the target even though its output is filtered.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# What pip does, one line per package, without its warnings, and a line every 15 s while it is silent
# (.ci/heartbeat: it unpacks and compiles for a minute or more without a word).
PIP_PROGRESS := awk '/^(Collecting|Successfully installed|ERROR|Still)/ {print "    " $$0; fflush()}'
HEARTBEAT := HEARTBEAT_LABEL=installing bash .ci/heartbeat

$(STAMP): pyproject.toml
	@echo "==> Installing genai-cicd into $(VENV) (first run only, about 1 to 3 minutes on 2 cores):"
	@echo "    boto3, Powertools, pydantic, numpy (the layer); moto (the embedded AWS); pytest, ruff, mypy, cfn-lint"
	@start=$$(date +%s); test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	$(HEARTBEAT) $(BIN)/python -m pip install --progress-bar off -e ".[local,dev]" 2>&1 | $(PIP_PROGRESS); \
	echo "==> $(VENV) ready in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)

demo: $(STAMP)  ## six releases of the sample app on the embedded AWS
	$(BIN)/genai-cicd demo

# Two workers, each taking whole test files (--dist loadfile), the longest first (tests/conftest.py;
# --no-loadscope-reorder keeps that order, xdist would sort files by their number of tests): a file's
# tests share its embedded stack and run in order on one worker. Three were faster (pytest 7.4 min) but
# starved timing-bound tests on 2 cores: a cancel landing mid-canary timed out once in the
# ordering suite, and the demo's canary once ran out of intervals. TEST_WORKERS=3 make test to try.
# (loadgroup would be finer, but pytest 9.2 no longer honours its groups: pytest-dev/pytest-xdist#1386.)
TEST_WORKERS ?= 2
test: $(STAMP) $(SEC_STAMP) browser lint typecheck  ## lint, types, then every test suite (tests/), offline
	GENAI_CICD_IAM_AUDIT=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP)  ## unit and contract tests only (no lint, no stack): the quick loop while editing
	$(BIN)/python -m pytest -q tests/unit tests/contract

# The report's browser test drives the machine's Chromium (tests/browser.py); Playwright downloads no browser.
browser:  ## Debian's chromium for the report's browser test, when apt-get can install it
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> Installing Debian's chromium for the report's browser test (first run only, about 1 minute)"; \
	  HEARTBEAT_LABEL="installing chromium" bash .ci/heartbeat bash -c 'apt-get install -y -qq chromium \
	    >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)' \
	    || echo "==> chromium could not be installed here: the browser test will be skipped"; }

# checkov pins an older boto3 than the project: the template scanners get their own virtualenv.
$(SEC_STAMP): .ci/security-requirements.txt
	@echo "==> Installing the template scanners into $(SEC) (first run only, about 1 minute): checkov, cfn-lint-serverless"
	@start=$$(date +%s); test -x $(SEC)/bin/python || $(PYTHON) -m venv $(SEC); \
	$(HEARTBEAT) $(SEC)/bin/python -m pip install --progress-bar off -r .ci/security-requirements.txt 2>&1 | $(PIP_PROGRESS); \
	echo "==> $(SEC) ready in $$(( $$(date +%s) - start )) s"
	@touch $(SEC_STAMP)

security-tools: $(SEC_STAMP)  ## checkov, cfn-lint-serverless and the SAM translator for tests/security

lint: $(STAMP)
	$(BIN)/ruff check shared local functions tests examples bench
	$(BIN)/cfn-lint template.yaml examples/support_bot/template.yaml examples/pipeline/pipeline.yaml

typecheck: $(STAMP)
	$(BIN)/mypy shared/genai_cicd local/genai_cicd_local
	MYPYPATH=bench $(BIN)/mypy bench/*.py

sam-check:  ## sam validate --lint and sam build, in SAM CLI's own virtualenv
	@test -x .venv-sam/bin/sam || ($(PYTHON) -m venv .venv-sam && .venv-sam/bin/pip install --quiet "aws-sam-cli==1.170.0")
	.venv-sam/bin/sam validate --lint
	.venv-sam/bin/sam build
	.venv-sam/bin/sam build -t examples/support_bot/template.yaml --build-dir .aws-sam/support_bot

data:  ## regenerate the sample app's prompts, datasets and suites
	cd examples/support_bot/tools && ../../../$(BIN)/python make_data.py

clean:
	rm -rf $(VENV) .venv-sam $(SEC) .aws-sam reports .pytest_cache .mypy_cache .ruff_cache

schemas: $(STAMP)  ## regenerate docs/schemas from the pydantic models
	for n in manifest golden-case guardrail-case injection-case score-line canary-stream; do \
	  $(BIN)/genai-cicd schema $$n > docs/schemas/$$n.schema.json; done

bench: $(STAMP)  ## the benchmarks of docs/BENCHMARKS.md, written to docs/bench/ (about 25 minutes on 2 cores)
	$(BIN)/python -m pip install --quiet -e ".[local,dev,bench]"
	@start=$$(date +%s); \
	$(BIN)/python bench/canary_judge.py --runs 200 > docs/bench/canary_judge.md && \
	$(BIN)/python bench/catastrophe_latency.py --runs 10 > docs/bench/catastrophe_latency.md && \
	$(BIN)/python bench/time_to_safe.py --runs 200 > docs/bench/time_to_safe.md && \
	$(BIN)/python bench/canary_cost.py --runs 200 --pipeline-runs 25 > docs/bench/canary_cost.md && \
	$(BIN)/python bench/gate_power.py --runs 1000 > docs/bench/gate_power.md && \
	$(BIN)/python bench/gate_power_classical.py --runs 400 > docs/bench/gate_power_classical.md && \
	$(BIN)/python bench/online_quality.py --runs 200 > docs/bench/online_quality.md && \
	$(BIN)/python bench/shadow_pairs.py --runs 200 > docs/bench/shadow_pairs.md && \
	$(BIN)/python bench/control_plane.py > docs/bench/control_plane.md && \
	$(BIN)/python bench/end_to_end.py > docs/bench/end_to_end.md && \
	echo "make bench: $$(( $$(date +%s) - start )) s on $$(nproc) CPUs, finished $$(date -u '+%Y-%m-%d %H:%M') UTC" \
		| tee docs/bench/total.md

bench-quick: $(STAMP)  ## a reduced run of every benchmark (a couple of minutes), to the terminal
	$(BIN)/python -m pip install --quiet -e ".[local,dev,bench]"
	$(BIN)/python bench/canary_judge.py --runs 10
	$(BIN)/python bench/catastrophe_latency.py --runs 1
	$(BIN)/python bench/time_to_safe.py --runs 20
	$(BIN)/python bench/canary_cost.py --runs 10 --pipeline-runs 2
	$(BIN)/python bench/gate_power.py --runs 20 --sizes 50,200
	$(BIN)/python bench/gate_power_classical.py --runs 20
	$(BIN)/python bench/online_quality.py --runs 10
	$(BIN)/python bench/shadow_pairs.py --runs 4
	$(BIN)/python bench/control_plane.py --quick

# Layer sizes and cold imports per function (docs/BENCHMARKS.md §6): the layers of BEFORE (a git ref) and of
# this tree, built by SAM CLI, each function's `import app` timed under the runtime's Python 3.13.
BEFORE ?= 73d0b3e
RUNTIME_PYTHON ?= $(shell command -v python3.13 2>/dev/null)
bench-demo-load: $(STAMP)  ## the demo five times quietly and five times beside four CPU-bound processes (about 16 minutes)
	$(BIN)/python bench/demo_under_load.py --runs 5 --burners 4

bench-late-metrics: $(STAMP)  ## harmless canaries with one arm's metrics two periods late, vs no delay (about 5 minutes)
	$(BIN)/python bench/late_metrics.py --runs 8

bench-layers: $(STAMP)  ## layer sizes and cold import time per function, BEFORE vs this tree (SAM CLI, Python 3.13)
	@test -n "$(RUNTIME_PYTHON)" || { echo "set RUNTIME_PYTHON to a Python 3.13 (the runtime's)"; exit 2; }
	@test -x .venv-sam/bin/sam || ($(PYTHON) -m venv .venv-sam && .venv-sam/bin/pip install --quiet "aws-sam-cli==1.170.0")
	rm -rf .aws-sam/bench && git worktree add --force --detach .aws-sam/bench/src $(BEFORE)
	cd .aws-sam/bench/src && ../../../.venv-sam/bin/sam build --no-cached --build-dir ../before >/dev/null
	git worktree remove --force .aws-sam/bench/src
	RUNTIME_PYTHON=/nonexistent .venv-sam/bin/sam build --no-cached --build-dir .aws-sam/bench/no-bytecode >/dev/null
	RUNTIME_PYTHON=$(RUNTIME_PYTHON) .venv-sam/bin/sam build --no-cached --build-dir .aws-sam/bench/after >/dev/null
	$(BIN)/python bench/layer_imports.py --build before=.aws-sam/bench/before \
		--build no-bytecode=.aws-sam/bench/no-bytecode --build after=.aws-sam/bench/after \
		--python $(RUNTIME_PYTHON) --runs 7 | tee docs/bench/layer_imports.md
