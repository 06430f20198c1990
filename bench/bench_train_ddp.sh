#!/usr/bin/env bash
# Multi-GPU scaling of training: the same configurations with 1 process and with NPROC processes (torchrun, DDP, one GPU
# each, the same per-GPU batch), then scaling = tokens/s(NPROC GPUs) / tokens/s(1 GPU) per configuration.
#   bash bench/bench_train_ddp.sh OUT_DIR [extra bench_train.py flags]
# Env: NPROC (2), PRESET (v75), BATCHES (2,4: per GPU), CKPT (on), OPTIM (fused), LLAMA ('' = SNN only; e.g. 16),
#      BUDGET_S (150 per run), PYTHON (python). Writes OUT_DIR/train_1gpu.json, train_${NPROC}gpu.json, scaling.json.
# CPU smoke test (2 shared cores, ~1 min): NPROC=2 PRESET=tiny BATCHES=2 bash bench/bench_train_ddp.sh /tmp/ddp --device cpu --seq 32 --steps 2
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/bench_train_ddp.sh OUT_DIR [flags]}; shift
PY=${PYTHON:-python}; NPROC=${NPROC:-2}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
ARGS=(--preset "${PRESET:-v75}" --batches "${BATCHES:-2,4}" --llama_batches "${LLAMA:-}" --ckpt "${CKPT:-on}" --llama_ckpt off
      --optim "${OPTIM:-fused}" --budget_s "${BUDGET_S:-150}" "$@")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "== 1 process"
"$PY" bench/bench_train.py "${ARGS[@]}" --out "$OUT/train_1gpu.json"
echo "== $NPROC processes (torchrun, DDP)"
"$PY" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" bench/bench_train.py --ddp "${ARGS[@]}" --out "$OUT/train_${NPROC}gpu.json"
echo "== scaling"
"$PY" bench/bench_train.py --scaling_of "$OUT/train_1gpu.json,$OUT/train_${NPROC}gpu.json" --out "$OUT/scaling.json"
