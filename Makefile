# k8snet: the two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BACKEND ?= sandbox
STAMP  := $(VENV)/.installed

.PHONY: venv lab test test-unit test-kind bench bench-kind sandbox-up sandbox-down sandbox-reset kind-up kind-down lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

lab: venv
ifeq ($(BACKEND),kind)
	$(BIN)/k8snet kind up
else
	$(BIN)/k8snet sandbox up
endif
	K8SNET_BACKEND=$(BACKEND) $(BIN)/jupyter lab notebooks/

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
