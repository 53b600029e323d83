# Kundendienst-Bot: two commands do everything, `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: help install run train test lint typecheck validate pytest stories browser bench eval shell clean

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## create .venv from requirements.lock (no-op when up to date)
	@scripts/install.sh

train: install ## train the Rasa model if config, domain or data changed
	@$(PY) scripts/train.py

run: install train widget ## start Redis, action server, Rasa, handoff service and demo storefront
	@$(PY) scripts/stack.py

WIDGET_JS := widget/dist/kdbot-widget.js
.PHONY: widget
widget: $(WIDGET_JS) ## build the storefront widget (npm ci only when the lock file changed)

widget/node_modules/.package-lock.json: widget/package.json widget/package-lock.json
	@cd widget && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WIDGET_JS): widget/node_modules/.package-lock.json $(wildcard widget/src/*.ts)
	@cd widget && npm run -s build -- --log-level=warning

browser: ## install Debian's headless Chromium for the browser tests (if missing)
	@scripts/ensure_chromium.sh

lint: install ## ruff
	@$(VENV)/bin/ruff check .

typecheck: install ## mypy on our own packages
	@$(VENV)/bin/mypy bot actions handoff scripts

validate: install ## rasa data validate
	@$(PY) -m rasa data validate --domain bot/domain --data data --config config.yml --fail-on-warnings

pytest: install train browser widget ## unit, integration and end-to-end tests
	@$(VENV)/bin/pytest -q -p no:cacheprovider; code=$$?; \
	  if [ $$code = 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$code

stories: install train ## Rasa conversation tests (tests/stories)
	@mkdir -p var/log
	@$(PY) -m rasa test core --stories tests/stories --model "$$(cat models/current)" \
	    --fail-on-prediction-errors --out var/results/stories \
	    --no-plot > var/log/stories.log 2>&1 || { tail -40 var/log/stories.log; \
	    cat var/results/stories/failed_test_stories.yml 2>/dev/null; exit 1; }
	@grep -h "Correct:" var/log/stories.log | head -1 | sed 's/.*Correct: */conversation tests: stories correct /' 

test: lint typecheck validate pytest stories ## everything CI runs

bench: install train ## benchmarks; figures go to docs/BENCHMARKS.md
	@for b in bench/*/run.py; do echo "== $$b"; $(PY) $$b || exit 1; done

eval: install train ## NLU on the held-out set (tests/nlu); figures into docs/BENCHMARKS.md
	@$(PY) bench/nlu/eval.py

shell: install ## talk to the running bot (start `make run` in another terminal first)
	@$(PY) scripts/chat.py

clean: ## remove trained models and runtime state (keeps .venv)
	rm -rf models/*.tar.gz models/current var/
