# `make demo`: set up .venv, train on QM9 (DEMO_TRAINER=smoke: 40 steps; =default: the hour run), sample; `make test`: set up .venv and run every test.
# torch is pinned by constraints.txt to 2.13.0, which here resolves to the local CPU wheel (no CUDA download).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo
DEMO_TRAINER ?= smoke

.PHONY: setup demo test clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/unite-mol train dataset=qm9 trainer=$(DEMO_TRAINER) run.dir=$(DEMO_DIR)
	$(BIN)/unite-mol sample --ckpt $(DEMO_DIR) --n 200 --out $(DEMO_DIR)/samples.sdf

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs build dist *.egg-info
