# k8snet: the two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BACKEND ?= $(or $(K8SNET_BACKEND),sandbox)
LAB_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: venv playwright lab notebooks test test-unit test-browser test-kind bench bench-kind sandbox-up sandbox-down sandbox-reset kind-up kind-down lint clean

venv: $(STAMP)

# A venv that is a link (a git worktree sharing its main checkout's venv) is left alone: installing this
# checkout into it would point the shared editable install here.
$(STAMP): pyproject.toml
	@if [ -L $(VENV) ]; then echo "$(VENV) is a link to a shared venv: not reinstalling it from this checkout"; \
	else test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/python -m pip install --quiet -e ".[dev]" && \
	  touch $(STAMP); fi

# Playwright for the browser test (tests/browser), in a step of its own after [dev]: it needs greenlet>=3, while
# httpbin 0.10.4 declares greenlet<3 on Python<3.12, so pip cannot resolve the two in one install. httpbin never
# imports greenlet (the pin serves the gevent server of httpbin's own Docker image, and on Python 3.12+ it asks for
# greenlet 3 itself); tests/sandbox/test_httpbin.py runs the real httpbin on greenlet 3. Once a venv has Playwright,
# `make test` keeps it in step: a reinstall of [dev] puts greenlet 2 back, and this step upgrades it again.
PLAYWRIGHT := playwright==1.65.2
PW_STAMP := $(VENV)/.playwright

playwright: $(PW_STAMP)

$(PW_STAMP): $(STAMP)
	@echo "Installing $(PLAYWRIGHT) for the browser test. pip upgrades greenlet to 3 and then reports httpbin's"
	@echo "greenlet<3 pin as unmet: expected, httpbin does not use greenlet (see the Makefile and README)."
	$(BIN)/python -m pip install --quiet "$(PLAYWRIGHT)"
	@touch $@

# make lab [BACKEND=kind] [LAB_ARGS="--port 9999 --no-browser"]: start the cluster, then JupyterLab at the
# repository root on START.ipynb. BACKEND also comes from K8SNET_BACKEND. As root (containers, Codespaces,
# JupyterHub images) JupyterLab refuses to start without --allow-root, so it gets it there.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
CLUSTER := $(if $(filter kind,$(BACKEND)),kind cluster,sandbox)

lab: venv
	$(if $(filter $(BACKEND),sandbox kind),,$(error BACKEND must be sandbox or kind, not "$(BACKEND)"))
	$(BIN)/k8snet $(BACKEND) up
	@echo "The $(CLUSTER) runs on its own: it keeps running after JupyterLab stops ('make $(BACKEND)-down' stops it)."
	@K8SNET_BACKEND=$(BACKEND) $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/START.ipynb $(ALLOW_ROOT) $(LAB_ARGS) \
		|| { status=$$?; echo; echo "JupyterLab did not start or stopped with an error (exit status $$status; its message is above)."; \
		     echo "The $(CLUSTER) is still running: 'make $(BACKEND)-down' stops it, or fix the error and run 'make lab' again (it reuses the cluster)."; \
		     exit $$status; }

# Regenerate stored notebook outputs as `make test` checks them (each on a fresh sandbox reset with seed 0),
# after changing a notebook or anything that changes what it shows: make notebooks NB=notebooks/01-*.ipynb
NB ?= notebooks/*.ipynb labs/*/solution.ipynb
notebooks: venv
	$(BIN)/python tests/notebook_outputs.py $(NB)

# The suite runs on TEST_WORKERS processes (pytest-xdist), each test file whole on one of them with its own
# sandbox (--dist loadfile): most of a test's time is waiting on a sandbox (grace periods, timeouts, pods
# starting), so three workers keep two cores busy (measured: 18 min with two, 14 with three, the same CPU time).
# TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 3
test: venv $(if $(wildcard $(PW_STAMP)),playwright)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests notebooks labs/*/solution.ipynb --nbval --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider

test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

# The browser test alone (JupyterLab as `make lab` starts it, in Debian's Chromium): make test-browser
test-browser: playwright
	$(BIN)/python -m pytest -q -rs -m browser tests/browser -p no:cacheprovider

bench: venv
	$(BIN)/python -m bench

sandbox-up: venv
	$(BIN)/k8snet sandbox up

sandbox-down: venv
	$(BIN)/k8snet sandbox down

sandbox-reset: venv
	$(BIN)/k8snet sandbox reset

kind-up: venv
	$(BIN)/k8snet kind up

kind-down: venv
	$(BIN)/k8snet kind down

# Instructor pre-flight on a real cluster: the kind-marked tests (they create the cluster with `k8snet kind up`;
# skipped with the reason where Docker or kind is missing), then every notebook and lab solution against kind.
# --nbval-lax: a real cluster's names and timings vary, so the notebooks' own assertions are the check.
test-kind: venv
	$(BIN)/python -m pytest -q -rs -m kind tests/kind -p no:cacheprovider
	@if $(BIN)/k8snet kind status >/dev/null 2>&1; then \
		K8SNET_BACKEND=kind $(BIN)/python -m pytest -q notebooks labs/*/solution.ipynb --nbval-lax -p no:cacheprovider; \
	else \
		echo "SKIPPED notebooks and labs on kind: no ready kind cluster k8snet (needs Docker and kind; see k8snet doctor)"; \
	fi

bench-kind: venv
	$(BIN)/python -m bench.kind

lint: venv
	$(BIN)/ruff check helpers tests bench

clean:
	rm -rf $(VENV) .pytest_cache
