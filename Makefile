# Two commands on a fresh clone (see README.md):
#   make lab    open the course in JupyterLab
#   make test   run every test: unit tests and every notebook (quick scale) through nbval
# Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab test notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_start_here.ipynb

test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile

notebooks: $(STAMP)
	$(PY) -m fwcourse build-notebooks

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-test.txt
	touch $(STAMP)
