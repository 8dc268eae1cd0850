# k8snet: the two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BACKEND ?= $(or $(K8SNET_BACKEND),sandbox)
LAB_ARGS ?=
STAMP  := $(VENV)/.installed

.PHONY: venv lab notebooks test test-unit test-kind bench bench-kind sandbox-up sandbox-down sandbox-reset kind-up kind-down lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

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

test: venv
	$(BIN)/python -m pytest -q tests notebooks labs/*/solution.ipynb --nbval --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider

test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

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
