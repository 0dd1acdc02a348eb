# q2c: two commands do everything on a fresh machine (Python 3.11, Java 17, Maven):
#   make demo   set up what is missing, bring the whole stack up, run the demo
#   make test   set up what is missing, run every test (unit, integration, e2e)
# The stack's own commands: make up / make down / make status.

SHELL := /bin/bash
UV_VERSION := 0.13.8
Q2C_CACHE ?= $(HOME)/.cache/q2c
UV := $(Q2C_CACHE)/uv-$(UV_VERSION)/bin/uv
RUN := $(UV) run --frozen --no-progress

.PHONY: setup up down status demo test test-unit fuzz bench soak failover lint clean-state admin processor outbox inbox contract contract-release

# uv, pinned, in a cache outside the repository; it installs the locked environment.
$(UV):
	python3 -m venv $(Q2C_CACHE)/uv-$(UV_VERSION)
	$(Q2C_CACHE)/uv-$(UV_VERSION)/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV)
	@# --compile-bytecode: the locked packages' .pyc written once here, so a process that starts
	@# (a service, the CLI, a test's subprocess) imports them instead of compiling every module
	@# again, as it would where PYTHONDONTWRITEBYTECODE is set (docs/decisions.md)
	$(UV) sync --frozen --no-progress --quiet --compile-bytecode
	@# the Compose Specification schema tests/unit/test_compose.py checks against (pinned; needs npm)
	@if command -v npm >/dev/null && [ ! deploy/compose/node_modules/.package-lock.json -nt deploy/compose/package-lock.json ]; then \
		npm ci --prefix deploy/compose --no-audit --no-fund --silent; fi

up: setup
	$(RUN) q2c up

down:
	@if [ -x $(UV) ] && [ -d .venv ]; then $(RUN) q2c down; else echo "nothing to stop"; fi

status: setup
	$(RUN) q2c status

demo: up
	$(RUN) q2c demo

# The reference AsyncAPI parser for the contract tests, pinned by its package-lock.json.
ASYNCAPI_TOOL := contracts/asyncapi
$(ASYNCAPI_TOOL)/node_modules/.package-lock.json: $(ASYNCAPI_TOOL)/package-lock.json
	cd $(ASYNCAPI_TOOL) && npm ci --no-audit --no-fund --loglevel=error

# Every test. Integration and e2e tests start their own stack (other ports, state in
# .q2c/test) and stop it at the end; a stack started by `make up` is left alone.
test: setup $(ASYNCAPI_TOOL)/node_modules/.package-lock.json
	$(RUN) ruff check --quiet .
	$(RUN) lint-imports --no-cache
	$(RUN) mypy
	$(RUN) pytest

test-unit: setup
	$(RUN) pytest -m unit

# The contract suite alone (schemas, compatibility gate, AsyncAPI parser, pacts; no stack), and
# a contract release: make contract-release VERSION=v3 (docs/contract-testing.md).
contract: setup $(ASYNCAPI_TOOL)/node_modules/.package-lock.json
	$(RUN) pytest -q tests/contract tests/unit/test_contract_compatibility.py tests/unit/test_asyncapi.py

contract-release: setup
	@test -n "$(VERSION)" || { echo "usage: make contract-release VERSION=v3"; exit 2; }
	$(RUN) q2c asyncapi > docs/asyncapi.json
	$(RUN) q2c contract release $(VERSION)

# Hostile input (issue 12): the Hypothesis fuzz tests with a large budget (make test runs a
# small, derandomized one). FUZZ_EXAMPLES=N per test; the e2e run through the real stack sends
# FUZZ_STACK_MESSAGES=N messages with a fresh seed (Q2C_FUZZ_SEED=N replays one).
fuzz: setup
	Q2C_FUZZ=1 Q2C_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} Q2C_FUZZ_STACK_MESSAGES=$${FUZZ_STACK_MESSAGES:-600} \
		$(RUN) pytest -q tests/unit/fuzz tests/e2e/test_fuzz_stack.py --hypothesis-show-statistics

# Thin aliases of the q2c command (docs/operations.md): make admin ARGS="maps" is `q2c admin maps`
# (pause MAP, resume MAP, errors, retry --all, initial-sync)
admin: setup
	$(RUN) q2c admin $(ARGS)

# The message processor's messages: make processor ARGS="messages" (cancel ID, requeue ID)
processor: setup
	$(RUN) q2c processor $(ARGS)

# One service's outbox: make outbox ARGS="quote parked" (retry ID, retry --all)
outbox: setup
	$(RUN) q2c outbox $(ARGS)

# One service's inbox: make inbox ARGS="quote stats" (prune, prune --older-than DAYS [--force])
inbox: setup
	$(RUN) q2c inbox $(ARGS)

# make bench LONG=1 [LIFECYCLES=N]: only the long memory run (docs/performance.md)
bench: up
	LONG=$(LONG) LIFECYCLES=$(LIFECYCLES) $(RUN) q2c bench

# The chaos soak (issue 8, docs/performance.md): lifecycle load while a process of the stack is
# SIGKILLed at least every 12 s, then the loss/duplicate/replay checks; SECONDS=N (default 600).
soak: up
	$(RUN) q2c soak $(or $(SECONDS),600)

# Broker failover on a cluster (issue 13, docs/scaling.md): Q2C_KAFKA_BROKERS=3 make failover
failover: up
	$(RUN) q2c failover

lint: setup
	$(RUN) ruff check .
	$(RUN) lint-imports --no-cache
	$(RUN) mypy

clean-state: down
	rm -rf .q2c
