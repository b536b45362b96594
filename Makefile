# Two commands for a fresh clone (Python 3.11 and make are all it needs):
#   make run    create .venv, install the pinned stack, serve the dashboard at http://localhost:8501
#   make test   create .venv the same way, lint (ruff) and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt --editable .
	touch $@

# Ray, for the batch runner's --engine ray (optional for users, installed for the tests).
$(VENV)/.scale-installed: requirements-scale.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.installed $(VENV)/.scale-installed
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m pytest

$(VENV)/.benchmark-installed: benchmarks/requirements.txt benchmarks/requirements-no-deps.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r benchmarks/requirements-no-deps.txt
	touch $@

benchmark: $(VENV)/.benchmark-installed $(VENV)/.scale-installed
	$(BIN)/python benchmarks/imaging.py
	$(BIN)/python benchmarks/sequences.py
	$(BIN)/python benchmarks/literature.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV)
