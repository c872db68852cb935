# The verbs a person types. Everything installs itself on first use.
#   make deploy            deploy every stack into the local AWS target (MiniStack)
#   make test              lint + the whole test suite
# Variables: STAGE=dev|prod  TARGET=local|aws  LOCAL_PORT=4566  FN=... EVENT=...

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LINT_VENV := .venv-lint
MINISTACK_VENV := .venv-ministack
LOAD_VENV := .venv-load
LOAD_USERS ?= 20
LOAD_SECONDS ?= 60
STAGE ?= dev
TARGET ?= local
LOCAL_PORT ?= 4566
CDK := npx --no-install cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: lock help install synth diff deploy destroy status invoke mail urls ui load rehearse test unit e2e lint docs bench admin clean plan

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Each venv installs its top-level pins with the whole resolved tree locked
# (constraints/*.txt, `make lock`), then checks it holds nothing else; which
# requirements and which lock belong to a venv is declared in tools/lock.py.
define install_venv
	$(PYTHON) -m tools.lock --install $(1)
	touch $@
endef

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda_src/requirements.txt constraints/dev.txt
	$(call install_venv,$(VENV))

$(LINT_VENV)/.installed: requirements-lint.txt constraints/lint.txt
	$(call install_venv,$(LINT_VENV))

$(MINISTACK_VENV)/.installed: requirements-ministack.txt constraints/ministack.txt
	$(call install_venv,$(MINISTACK_VENV))

$(LOAD_VENV)/.installed: requirements-load.txt constraints/load.txt
	$(call install_venv,$(LOAD_VENV))

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed $(MINISTACK_VENV)/.installed node_modules/.installed ## create the venvs, install MiniStack and the pinned CDK CLI

synth: install ## synthesize every stack to cdk.out/ (STAGE=prod for prod)
	$(CDK) synth --quiet -c stage=$(STAGE)
	@ls cdk.out/*.template.json

plan: install ## stateful changes that would fail or lose data: make plan [BASE=<git ref>] [TARGET=local|aws]
	$(PY) -m tools.plan $(if $(BASE),--base=$(BASE)) $(if $(filter command line environment,$(origin TARGET)),--target $(TARGET) --port $(LOCAL_PORT))

diff: install plan ## the plan check, then cdk diff (TARGET=aws: against the account; local: against the local endpoint)
	$(PY) -m tools.local diff --target $(TARGET) --stage $(STAGE) --port $(LOCAL_PORT)

deploy: install ## deploy everything (TARGET=local: MiniStack on localhost; TARGET=aws: your account; FRESH=1: new endpoint)
	$(PY) -m tools.local deploy --target $(TARGET) --stage $(STAGE) --port $(LOCAL_PORT) $(if $(FRESH),--fresh)

destroy: install ## destroy the stacks and stop the local endpoint
	$(PY) -m tools.local destroy --target $(TARGET) --stage $(STAGE) --port $(LOCAL_PORT)

status: install ## is the local endpoint running, and which stacks and tables it has
	$(PY) -m tools.local status --port $(LOCAL_PORT)

invoke: install ## invoke a deployed function through the Lambda API: make invoke FN=name EVENT=file.json
	$(PY) -m tools.local invoke --function "$(FN)" --event "$(EVENT)" --port $(LOCAL_PORT)

mail: install ## the latest mail sent through SES locally, with its links (TO=address, LINK=/verify: its token)
	$(PY) -m tools.local mail --port $(LOCAL_PORT) $(if $(TO),--to "$(TO)") $(if $(LINK),--token-of "$(LINK)")

urls: install ## export lines for the local endpoint, both REST APIs and the queues: eval "$(make -s urls)"
	$(PY) -m tools.local urls --port $(LOCAL_PORT)

ui: install ## dynamodb-admin on http://127.0.0.1:8001 against the local tables
	$(PY) -m tools.local ui --port $(LOCAL_PORT)

unit: install ## the test suite without the end-to-end tests on the local target
	$(PY) -m pytest -q -m "not e2e"

e2e: install ## only the end-to-end tests: deploy into MiniStack and drive it over HTTP
	$(PY) -m pytest -q -m e2e

test: install $(LOAD_VENV)/.installed lint plan ## lint, the update plan check, then every test (unit, infra, runtime, e2e)
	$(PY) -m pytest -q

lint: install $(LINT_VENV)/.installed ## ruff and mypy on the Python, cfn-lint and checkov on every synthesized template
	$(PY) -m tools.lint --lint-venv $(LINT_VENV)

docs: install ## regenerate docs/database-schema.md from the schema declarations
	$(PY) -m tools.docs_gen

rehearse: install ## rehearse the update from BASE=<git ref> (default main) to the working tree on a fresh local target
	$(PY) -m tools.local rehearse --base "$(or $(BASE),main)"

load: install $(LOAD_VENV)/.installed ## Locust against the deployed APIs (LOAD_USERS=20 LOAD_SECONDS=60), counters checked after
	$(PY) -m tools.load --port $(LOCAL_PORT) --users $(LOAD_USERS) --seconds $(LOAD_SECONDS) --write

lock: ## re-resolve the top-level pins in fresh venvs and rewrite constraints/*.txt (then reinstall)
	$(PYTHON) -m tools.lock

bench: install ## run the benchmarks and rewrite docs/PERFORMANCE.md
	$(PY) -m tools.bench

admin: install ## the admin CLI: make admin ARGS="patterns mfh.users"
	$(PY) -m tools.admin $(ARGS)

clean: ## remove build output (keeps the venvs)
	rm -rf cdk.out .pytest_cache .local
