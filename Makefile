# `make demo`: set up .venv and run the end-to-end job; `make test`: set up .venv and run every test.
# torch is pinned by constraints.txt to 2.13.0, which here resolves to the local CPU wheel (no CUDA download).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo

.PHONY: setup demo test clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/unite-toy train run.dir=$(DEMO_DIR)
	$(BIN)/unite-toy sample --ckpt $(DEMO_DIR) --n 600 --out $(DEMO_DIR)/samples.npz

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs build dist *.egg-info
