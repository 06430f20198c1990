#!/usr/bin/env bash
# FSDP2 check on a CPU (chapter 7): the tiny SNN with 1 process x batch 8 (plain), with 2 processes x batch 4 sharded
# (torchrun, gloo), and the sharded run resumed from its step-3 checkpoint on 2 processes (sharded) and on 1 (plain:
# the sharded checkpoint is resharded on load). The four metrics logs must agree step by step, up to fp32 rounding that
# grows a little with each step (chapter 7 says how closely). Then `ns-pretrain --fsdp`.
# Usage: bash bench/fsdp_cpu.sh [OUT_DIR]   (about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fsdp_cpu}
B=${NS_VENV:-.venv}/bin
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
"$B/ns-prepare-data" --out out/data >/dev/null
rm -rf "$OUT"
"$B/python" bench/fsdp_cpu.py "$OUT/one" 8
"$B/torchrun" --standalone --nproc_per_node 2 bench/fsdp_cpu.py "$OUT/two" 4 --fsdp
"$B/torchrun" --standalone --nproc_per_node 2 bench/fsdp_cpu.py "$OUT/two_resumed" 4 --fsdp --resume "$OUT/two/checkpoints/step_3"
"$B/python" bench/fsdp_cpu.py "$OUT/one_resumed" 8 --resume "$OUT/two/checkpoints/step_3"
# the command line: ns-pretrain --fsdp on 2 processes with per-layer checkpointing; final/ must be a plain model folder
"$B/torchrun" --standalone --nproc_per_node 2 bench/pretrain.py --preset tiny --recipe v75 --fsdp --config checkpointing=layers \
    --steps 2 --batch 2 --seq_len 32 --eval_every 2 --eval_batches 1 --save_every 1 --samples 0 --no-progress --out "$OUT/cli" >/dev/null
echo "logs: $OUT/{one,two,two_resumed,one_resumed}/metrics.jsonl"
