# Two commands for a newcomer: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh
	@scripts/system-deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(VENV)/bin/dlgrade demo

test: install
	$(PY) -m autograder release --check
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/conv.py
	$(PY) benchmarks/check.py
	$(PY) benchmarks/bulk.py
	$(PY) benchmarks/similarity.py
	$(PY) benchmarks/cnn.py
	$(PY) benchmarks/cnn_class.py
	$(PY) benchmarks/transfer.py

clean:
	rm -rf $(VENV) build dist *.egg-info
