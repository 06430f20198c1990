#!/usr/bin/env bash
# The chapter-7 GPU runs. Each run is sized to take at most about 6 minutes on one H100 (calibrated first).
#   bash bench/pretrain_gpu.sh single OUT   # 1 GPU: small SNN, then the matched Llama on the same tokens
#   bash bench/pretrain_gpu.sh ddp OUT      # 2 GPUs: the same run on 1 GPU (batch 2B) and on 2 GPUs (batch B each)
# Needs: this source tree, out/data/ (ns-prepare-data, with its .idx/.tok caches), tokenizer_snn/, and python with
# torch (CUDA), transformers>=5, tokenizers, safetensors, fastcore, tqdm, numpy, matplotlib.
# Env: B (rows per GPU), SEQ (512), PRESET (small), BUDGET_S (300); a CPU smoke test: PRESET=tiny SEQ=32 B=4 BUDGET_S=5.
# Writes OUT/<run>/metrics.jsonl (+ final/, loss.png) and OUT/<run>.log; the logs are what the chapter plots.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?single or ddp}; OUT=${2:-runs/gpu}
PY=${PYTHON:-python}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpus.txt"
SEQ=${SEQ:-512}; BUDGET_S=${BUDGET_S:-300}; PRESET=${PRESET:-small}   # BUDGET_S: seconds of training per run
COMMON="--recipe ${RECIPE:-v75} --preset $PRESET --seq_len $SEQ --lr 1e-3 --eval_every 50 --eval_batches 20 --log_every 5 --save_every 0"

calibrate() {  # calibrate NAME ARGS...: 12 steps, prints the number of steps that fit in BUDGET_S
  local name=$1; shift
  "$PY" bench/pretrain.py $COMMON "$@" --steps 12 --eval_every 1000 --log_every 4 --samples 0 --out "$OUT/calib_$name" > "$OUT/calib_$name.log" 2>&1
  "$PY" - "$OUT/calib_$name/metrics.jsonl" "$BUDGET_S" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
tok_s = recs[-1]['tok_s']; step_tokens = recs[-1]['tokens'] / recs[-1]['step']   # last window: warm
print(max(50, min(5000, int(float(sys.argv[2]) * tok_s / step_tokens) // 50 * 50)))
PYEOF
}

if [ "$MODE" = single ]; then
  B=${B:-16}
  STEPS=$(calibrate snn --arch snn --batch $B)
  echo "small SNN: $STEPS steps of $B x $SEQ tokens fit in ${BUDGET_S}s" | tee -a "$OUT/plan.txt"
  "$PY" bench/pretrain.py $COMMON --arch snn   --batch $B --steps $STEPS --out "$OUT/snn_small"   2>&1 | tee "$OUT/snn_small.log"
  "$PY" bench/pretrain.py $COMMON --arch llama --batch $B --steps $STEPS --out "$OUT/llama_small" 2>&1 | tee "$OUT/llama_small.log"
elif [ "$MODE" = ddp ]; then
  B=${B:-8}                                                        # per GPU; the 1-GPU run uses 2B
  STEPS=$(calibrate ddp --arch snn --batch $((2 * B)))
  STEPS=$(( STEPS / 2 > 50 ? STEPS / 2 : 50 ))                     # two runs share the budget
  echo "DDP check: $STEPS steps, global batch $((2 * B))" | tee -a "$OUT/plan.txt"
  "$PY" bench/pretrain.py $COMMON --arch snn --batch $((2 * B)) --steps $STEPS --samples 0 --out "$OUT/one_gpu" 2>&1 | tee "$OUT/one_gpu.log"
  "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 bench/pretrain.py $COMMON --arch snn --batch $B --steps $STEPS --samples 0 \
      --out "$OUT/two_gpu" 2>&1 | tee "$OUT/two_gpu.log"
else
  echo "usage: bash bench/pretrain_gpu.sh single|ddp OUT" >&2; exit 2
fi
rm -rf "$OUT"/calib_*/final "$OUT"/*/checkpoints
[ "${KEEP_MODELS:-0}" = 1 ] || rm -rf "$OUT"/*/final           # the logs are what the chapter needs (KEEP_MODELS=1 keeps the models)
echo "done: $OUT"
