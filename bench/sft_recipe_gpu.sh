#!/usr/bin/env bash
# Chapter 8's GPU experiment in one go, on one GPU (the small models leave most of an H100 idle, so runs share it):
#   1. the matched Llama: pretrain PRE_STEPS, fine-tune SFT_STEPS, ask the held-out reviews (bench/sft_gpu.sh llama);
#   2. at the same time, short pretraining runs of the small SNN, one per recipe (bench/pretrain_ab.sh);
#   3. the recipe with the lowest validation loss: the same plan as the Llama (bench/sft_gpu.sh snn).
# SNN_FLAGS set (e.g. from an earlier A/B): that recipe, no A/B.
#   bash bench/sft_recipe_gpu.sh RUNS COPY      # COPY receives the small results, and COPY.tgz all of them in one file
# Environment: SNN_FLAGS (skip the A/B), PRE_STEPS (6000), SFT_STEPS (1722), AB_STEPS (1200), AB_MINUTES (6), PRE_MINUTES (9: the SNN's long
# pretraining stops early, validated and saved, after this many minutes), PYTHON (python).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:?RUNS}; COPY=${2:?COPY}
PY=${PYTHON:-python}; export PYTHON=$PY PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PRE_STEPS=${PRE_STEPS:-6000}; SFT_STEPS=${SFT_STEPS:-1722}
mkdir -p "$RUNS" "$COPY"
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
[ -f out/sft/train.jsonl ] || "$PY" -c "from neuronspark.sft import prepare_sft_data; prepare_sft_data('out/sft')"
date +"start %T"
PRE_EXTRA= SFT_EXTRA= PRE_STEPS=$PRE_STEPS SFT_STEPS=$SFT_STEPS bash bench/sft_gpu.sh llama "$RUNS/main" "$COPY/main" > "$RUNS/llama.out" 2>&1 &
LLAMA=$!
if [ -n "${SNN_FLAGS+x}" ]; then                                   # the recipe given: no A/B
  FLAGS=$SNN_FLAGS
else
  VARIANTS=('base|--config checkpointing=proj'
            'nlr10|--config checkpointing=proj --neuron_lr_mult 10'
            'c|--config checkpointing=proj,prenorm=True,center_residual=True'
            'cb_nlr10|--config checkpointing=proj,prenorm=True,center_residual=True,selective_init=v75b --neuron_lr_mult 10'
            'lr3e-3|--config checkpointing=proj --lr 3e-3')
  AB_EXTRA="--minutes ${AB_MINUTES:-6}" bash bench/pretrain_ab.sh "$RUNS/ab" "${AB_STEPS:-1200}" "${VARIANTS[@]}" | tee "$COPY/ab.txt"
  cp "$RUNS/ab/ab.json" "$COPY/"
  FLAGS=$("$PY" -c "import json; r=json.load(open('$RUNS/ab/ab.json')); print(min(r.values(), key=lambda v: v['final'] or 1e9)['flags'])")
fi
NLR=$(echo "$FLAGS" | grep -o -- '--neuron_lr_mult [0-9.]*' || true)
date +"%T: the SNN runs with '$FLAGS' (fine-tuning with '$NLR')" | tee "$COPY/choice.txt"
PRE_EXTRA="$FLAGS --minutes ${PRE_MINUTES:-9}" SFT_EXTRA="$NLR" PRE_STEPS=$PRE_STEPS SFT_STEPS=$SFT_STEPS \
    bash bench/sft_gpu.sh snn "$RUNS/main" "$COPY/main" > "$RUNS/snn.out" 2>&1 || echo "snn run failed: see $RUNS/snn.out"
wait $LLAMA || echo "llama run failed: see $RUNS/llama.out"
for r in llama snn; do cp "$RUNS/main/${r}_sft/sentiment_eval.json" "$COPY/main/${r}_sft/" 2>/dev/null || true; done
tail -c 3000 "$RUNS/llama.out" > "$COPY/llama_tail.txt"; tail -c 3000 "$RUNS/snn.out" > "$COPY/snn_tail.txt"
tar czf "$COPY.tgz" -C "$(dirname "$COPY")" "$(basename "$COPY")"
date +"all done %T"
