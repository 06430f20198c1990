#!/usr/bin/env bash
# DDP check on a CPU: the same run with 1 process x batch 8 and with 2 processes (torchrun, gloo) x batch 4 each.
# The two metrics logs must agree step by step (same global batch, same data, same loss normalisation).
# Usage: bash bench/ddp_cpu.sh [OUT_DIR]   (about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/ddp_cpu}
B=${NS_VENV:-.venv}/bin
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
"$B/ns-prepare-data" --out out/data >/dev/null
"$B/python" bench/ddp_cpu.py "$OUT/one" 8
"$B/torchrun" --standalone --nproc_per_node 2 bench/ddp_cpu.py "$OUT/two" 4
echo "logs: $OUT/one/metrics.jsonl $OUT/two/metrics.jsonl"
