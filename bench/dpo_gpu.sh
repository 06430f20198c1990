#!/usr/bin/env bash
# Chapter 8a's run on one GPU: pretrain the small SNN (its preset's recipe), fine-tune it (ns-sft), tune the fine-tuned model
# with DPO on the embedded sentiment pairs at each learning rate of DPO_LRS (side by side), and ask the held-out
# reviews after SFT and after each DPO run; writes OUT/summary.json.
#   bash bench/dpo_gpu.sh OUT [SEED]
# Environment: PRESET (small), ARCH (snn; llama: the matched Llama, same steps), PRE_STEPS (800), SFT_STEPS (600),
#   DPO_STEPS (300), DPO_LRS ("2e-5 1e-4"), BETA (0.1), EVAL_N (0: all 862 held-out reviews), PYTHON (python),
#   RECIPE (ns-pretrain --recipe, default auto: the preset's own, chapter 7's 'small' for the small preset), TEACHER (a
#   causal LM folder, e.g. the matched Llama's pre/: the pretraining distils from it with weight KD_WEIGHT, default 0.9),
#   SFT_TEACHER (a fine-tuned causal LM folder, e.g. the matched Llama's sft/: the fine-tuning distils from it, on the
#   answer tokens, with weight SFT_KD_WEIGHT, default 0.9),
#   PRE_EXTRA / SFT_EXTRA / DPO_EXTRA (more flags for each stage, e.g. SFT_EXTRA="--optimizer muon --lr 1e-3"), DPO_TAG (a
#   suffix of the DPO folders, dpo_<rate><tag>, so that a second DPO variant of the same chain, e.g. DPO_TAG=-diff
#   DPO_EXTRA="--score differing", lands beside the first), STAGES
#   ("pre": stop after pretraining; "sft": after fine-tuning, the summary without DPO; default all), PRE_MINUTES (stop
#   pretraining after this many minutes with a checkpoint; the same command later resumes it exactly, so that a plan
#   longer than one call runs over several). A stage whose result is in OUT already (pre/complete: all PRE_STEPS done,
#   sft/sentiment_eval.json, dpo_LR/dpo_eval.json) is skipped. PRE_PICK (final; best: pretraining keeps the model of its
#   lowest validation loss, --keep_best, and fine-tuning starts from it, pre/best/).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/dpo_gpu}; SEED=${2:-0}; PY=${PYTHON:-python}; PRESET=${PRESET:-small}; ARCH=${ARCH:-snn}
PRE_STEPS=${PRE_STEPS:-800}; SFT_STEPS=${SFT_STEPS:-600}; DPO_STEPS=${DPO_STEPS:-300}; DPO_LRS=${DPO_LRS:-2e-5 1e-4}
BETA=${BETA:-0.1}; EVAL_N=${EVAL_N:-0}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
MODEL="--arch $ARCH --recipe ${RECIPE:-auto}"   # a recipe gives the Llama its own settings (Muon at 3e-3 for small)
. bench/sft_plan.sh                             # SFT_PLAN: the fine-tuning flags, shared with bench/sft_variants.sh
. bench/cuda_retry.sh                           # again LOG DIR CMD: a stage started once more after a CUDA error at its start
PICK=${PRE_PICK:-final}; [ "$PICK" = final ] || [ "$PICK" = best ] || { echo "PRE_PICK must be final or best, got $PICK"; exit 2; }
# a stage whose model is already there is not run again, so that a chain split over several calls on one machine
# (pretraining in one, the rest in the next) picks up where it stopped
pre_done() {   # the last step pretraining logged (0: none yet)
  "$PY" -c "import json, sys; print(max((json.loads(l)['step'] for l in open(sys.argv[1])), default=0))" "$OUT/pre/metrics.jsonl" 2>/dev/null || echo 0; }
pretrain() {
  "$PY" bench/pretrain.py --preset "$PRESET" $MODEL --seq_len 256 --batch 32 --steps "$PRE_STEPS" --eval_batches 10 \
      --save_every 0 --samples 0 --no-progress --seed "$SEED" --out "$OUT/pre" ${TEACHER:+--teacher "$TEACHER" --kd_weight "${KD_WEIGHT:-0.9}"} \
      $([ -d "$OUT/pre/checkpoints" ] && echo --resume) ${PRE_MINUTES:+--minutes "$PRE_MINUTES"} $([ "$PICK" = best ] && echo --keep_best) \
      ${PRE_EXTRA:-} >> "$OUT/pre.log" 2>&1
}
if [ ! -f "$OUT/pre/complete" ]; then again "$OUT/pre.log" "$OUT/pre" pretrain || exit 1; fi
done_steps=$(pre_done)
if [ "$done_steps" -lt "$PRE_STEPS" ]; then echo "$OUT: pretraining at step $done_steps of $PRE_STEPS; run the same command again to go on"; exit 0; fi
touch "$OUT/pre/complete"                      # all PRE_STEPS done: a student may distil from this model (dpo_seeds.sh)
[ "${STAGES:-all}" = pre ] && exit 0
sft() {   # the fine-tuning (its log: sft.log)
  # shellcheck disable=SC2086  # SFT_PLAN and SFT_EXTRA are flag lists
  "$PY" bench/sft.py --init "$OUT/pre/$PICK" --out "$OUT/sft" $SFT_PLAN --steps "$SFT_STEPS" --seed "$SEED" --eval_n "$EVAL_N" \
      ${SFT_TEACHER:+--teacher "$SFT_TEACHER" --kd_weight "${SFT_KD_WEIGHT:-0.9}"} ${SFT_EXTRA:-} > "$OUT/sft.log" 2>&1
}
[ -f "$OUT/sft/sentiment_eval.json" ] || again "$OUT/sft.log" "$OUT/sft" sft || exit 1
dpo() {   # dpo LR RUN: one DPO run from the fine-tuned model (its log: RUN.log)
  "$PY" bench/dpo.py "$OUT/sft" --out "$OUT/$2" --tasks sentiment --beta "$BETA" --batch 16 --seq_len 192 --lr "$1" \
      --steps "$DPO_STEPS" --eval_batches 10 --save_every 0 --no-progress --seed "$SEED" --eval_n "$EVAL_N" ${DPO_EXTRA:-} > "$OUT/$2.log" 2>&1
}
for lr in $DPO_LRS; do
  run=dpo_$lr${DPO_TAG:-}
  [ "${STAGES:-all}" = sft ] || [ -f "$OUT/$run/dpo_eval.json" ] || again "$OUT/$run.log" "$OUT/$run" dpo "$lr" "$run" &
done
wait
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
val = lambda d: [json.loads(l)['val_loss'] for l in open(d / 'metrics.jsonl') if '"val"' in l]
sft = json.loads((out / 'sft' / 'sentiment_eval.json').read_text())
res = dict(pretrain_val=min(val(out / 'pre')), sft=dict(accuracy=sft['accuracy'], n=sft['n'], majority=sft['majority'], per_label=sft['per_label']), dpo={})
for d in sorted(out.glob('dpo_*')):
    if not (d / 'dpo_eval.json').is_file(): continue
    r = json.loads((d / 'dpo_eval.json').read_text())
    res['dpo'][d.name[4:]] = dict(accuracy=r['accuracy'], per_label=r['per_label'], pairs=r.get('pairs'), val_loss=r['val_loss'], beta=r['beta'])
(out / 'summary.json').write_text(json.dumps(res, indent=1))
print(json.dumps(res, indent=1))
PYEOF
