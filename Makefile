# k8snet: the two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BACKEND ?= sandbox
STAMP  := $(VENV)/.installed

.PHONY: venv lab test test-unit bench sandbox-up sandbox-down sandbox-reset kind-up kind-down lint clean

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

lint: venv
	$(BIN)/ruff check helpers tests bench

clean:
	rm -rf $(VENV) .pytest_cache
