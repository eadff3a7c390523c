# One command per job; each bootstraps what it needs and is safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: help demo demo-clean test lint unit docs collection collection-test integration bench molecule molecule-scenario images engine browser venv clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

demo: venv engine ## a container with the whole stack, a task round trip, both units' status
	scripts/demo.sh up

demo-clean: ## remove the demo container (and its generated secrets)
	scripts/demo.sh down

# On a new machine the virtualenv and the engine with its images install side by side; the
# browser, needed only by the last checks of two scenarios, installs in the background
# while the tests run (scripts/test.sh).
test: ## lint, the app's unit tests, every Molecule scenario
	$(MAKE) --no-print-directory --output-sync=line -j4 venv images
	scripts/test.sh

lint: venv ## yamllint, ansible-lint (production profile), secret scan, syntax of both inventories
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --offline --profile production
	scripts/secrets-check.sh
	$(BIN)/ansible-playbook --syntax-check -i inventory/local site.yml
	$(BIN)/ansible-playbook --syntax-check -i inventory/example site.yml

unit: venv collection ## the app's pytest suite, every input rule and bad input, the roles' own checks, the benchmark parsers
	$(BIN)/pytest -q app/tests tests bench/tests --ignore=tests/integration

docs: venv ## the role READMEs' variable tables, from the argument specs (make unit fails when they are stale)
	$(BIN)/python scripts/docs.py

collection: venv ## the roles as the collection celery_stack.deploy, in build/collection/
	$(BIN)/ansible-galaxy collection build --output-path build/collection --force

# INTEGRATION: which of the suite's files (scripts/test.sh spreads them over its lanes).
INTEGRATION ?= tests/integration --ignore=tests/integration/test_collection.py

integration: venv images ## fresh containers: bad inputs end to end, check mode, secrets, listeners, releases, an own app
	$(BIN)/pytest -q --durations=12 $(INTEGRATION)

collection-test: venv images ## the built collection installed offline and converged on a fresh container
	$(BIN)/pytest -q tests/integration/test_collection.py

# Named as well as found: Molecule looks for .config/molecule/config.yml at the top of a
# git checkout only, and a tree without .git must have it too.
MOLECULE := $(BIN)/molecule --base-config .config/molecule/config.yml

molecule: venv images ## every Molecule scenario, both Debian releases
	for s in $$(ls molecule); do $(MOLECULE) test -s $$s || exit 1; done

molecule-scenario: venv images
	$(MOLECULE) test -s $(SCENARIO)

bench: venv engine ## the performance figures against the demo container (not part of test)
	bench/run.sh

images: engine ## the systemd-booting Debian 12 and 13 test images (built side by side)
	scripts/build-image.sh 12 $${MOLECULE_DEBIAN12_IMAGE:-} & twelve=$$!; \
	scripts/build-image.sh 13 $${MOLECULE_DEBIAN13_IMAGE:-} & thirteen=$$!; \
	wait $$twelve; first=$$?; wait $$thirteen; second=$$?; [ $$first -eq 0 ] && [ $$second -eq 0 ]

engine: ## make sure a container engine answers
	scripts/container-engine.sh

browser: ## Debian's Chromium and chromedriver, for the test that opens Flower's pages (it installs them too)
	scripts/browser.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt app/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e 'app[test]'
	touch $@

clean: demo-clean ## the demo, and the controller virtualenv
	rm -rf $(VENV)
