#!/bin/bash
# Train on a lent GPU in ONE device call and bring the model back (a lease is short: 15 device-minutes a session).
#
# Here, once:   make gpu-kit      (the wheels the device image lacks, in .whl/, and the parsed QM9 cache)
# Then the device tool's `run`, from the repository root, with
#   carry: [".whl", "data/cache"]   (about 40 MB of the 64 a call may send)
#   command: MINUTES=7 bash benchmarks/gpu_train.sh [overrides...]          timeout_s: MINUTES·60 + 120
#
# It installs the kit into /tmp/site (the image's own PyTorch stays), writes nvidia-smi's view, trains
# `dataset=qm9 trainer=gpu` for MINUTES (warm from the shipped model; INIT=none: from scratch; INIT=FILE: from a packed
# model, e.g. an earlier call's, in an ignored folder named in carry; overrides come last and win,
# e.g. model=B optim.lr=1e-3 trainer.max_steps=3000), with the periodic evaluations off (they need RDKit, which does
# not fit in the carry), and leaves in $OUT: the packed EMA weights (bf16; sample and score them here with
# `unite-mol sample --ckpt qm9_gpu.pt` and `unite-mol evaluate`; the run's config is packed in it; over 15 MiB, a GE of
# 10 M parameters and more, it comes back in parts: `cat qm9_gpu.pt.part_* > qm9_gpu.pt`), train.csv, the log and
# nvidia-smi's view (gpu.txt). TAG=name puts the first three in $OUT/name/, so that two runs share one call (two
# small-model runs side by side kept an H200 at 91-100 % utilisation):
#   MINUTES=7 TAG=a RUN=runs/a bash benchmarks/gpu_train.sh ... &
#   MINUTES=7 TAG=b RUN=runs/b bash benchmarks/gpu_train.sh ... & wait
# Run on an H200 on 2026-12-04 (README, "GPU and several GPUs"); rehearsed on this CPU with trainer.precision=fp32.
# A call can end with nothing returned (2026-12-05: an H100 stopped answering in the middle of one 10-minute call). A warm
# machine keeps the ignored runs/ between calls and the same command resumes its RUN folder (INIT is then ignored), so
# split a lease into calls of a few minutes: each brings back the model as it stands (rehearsed here: two calls of
# MINUTES=0.3 ... trainer.precision=fp32 trainer.batch_size=16 trainer.num_workers=0, the second resumed at step 99).
set -euo pipefail
: "${OUT:?set OUT, the folder whose files come back (the device tool sets it)}"
MINUTES=${MINUTES:-7}
INIT=${INIT:-qm9}
RUN=${RUN:-runs/gpu}
DEST="$OUT${TAG:+/$TAG}"
mkdir -p "$DEST"

# Runs sharing a call install the kit and write nvidia-smi's view once: the first takes the lock and does both, the
# others find them done (unite_configs: the package name the Hydra configs are installed under).
exec 9> /tmp/site.lock
flock 9
if [ ! -e /tmp/site/.installed ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    ln -sfn "$PWD/configs" /tmp/site/unite_configs
    touch /tmp/site/.installed
fi
if [ ! -e "$OUT/gpu.txt" ]; then
    { nvidia-smi || echo "no nvidia-smi on this machine"; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$OUT/gpu.txt" 2>&1
fi
flock -u 9
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

init=()
if [ "$INIT" != none ]; then init=("init_from=$INIT"); fi
python3 -m unite_mol train dataset=qm9 trainer=gpu data.cache=data/cache "trainer.minutes=$MINUTES" trainer.eval_every=100000000 \
    trainer.progress=false "run.dir=$RUN" "${init[@]}" "$@" 2>&1 | tee "$DEST/train.log"
python3 -m unite_mol pack --ckpt "$RUN" --out "$DEST/qm9_gpu.pt" 2>&1 | tee -a "$DEST/train.log"
if [ "$(stat -c %s "$DEST/qm9_gpu.pt")" -gt $((15 * 1024 * 1024)) ]; then  # no file over 16 MiB comes back from a call
    split -b 15M "$DEST/qm9_gpu.pt" "$DEST/qm9_gpu.pt.part_" && rm "$DEST/qm9_gpu.pt"  # here: cat qm9_gpu.pt.part_* > qm9_gpu.pt
fi
cp "$RUN/train.csv" "$DEST/"  # the config travels inside the packed file
