#!/usr/bin/env bash
# Short pretraining runs of one preset side by side, one per variant, by default all at once on one GPU (the small
# preset uses a fraction of an H100), to choose the training recipe before a long run (chapter 8 uses it for the SFT
# model; chapter 7a runs it on a CPU with LANES=1).
#   bash bench/pretrain_ab.sh OUT STEPS 'name|flags' 'name|flags' ...
#   e.g. bash bench/pretrain_ab.sh runs/ab 1000 'base|' 'nlr10|--neuron_lr_mult 10' 'c|--config prenorm=True,center_residual=True'
# Every run: --preset $PRESET (small) --recipe $RECIPE (v75) --seq_len $SEQ_LEN (256) --batch $BATCH (32) --lr 1e-3,
# validation every $EVAL_EVERY steps (STEPS/4), and the same seed, data and schedule; only the variant's flags differ
# (AB_EXTRA: flags added to every run, e.g. "--minutes 6"). LANES: runs at once (default: all; 1 on a 2-core CPU, where
# one run at a time is faster). Prints (and writes OUT/ab.json) each variant's validation losses, best last.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?OUT}; STEPS=${2:?STEPS}; shift 2
[ $# -ge 1 ] || { echo "usage: bash bench/pretrain_ab.sh OUT STEPS 'name|flags' ..." >&2; exit 2; }
PY=${PYTHON:-python}; PRESET=${PRESET:-small}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
mkdir -p "$OUT"
LANES=${LANES:-$#}
pids=(); fail=0
for v in "$@"; do
  name=${v%%|*}; flags=${v#*|}
  if [ ${#pids[@]} -ge "$LANES" ]; then wait "${pids[0]}" || fail=1; pids=("${pids[@]:1}"); fi   # a lane frees when its oldest run ends
  # shellcheck disable=SC2086
  "$PY" bench/pretrain.py --preset "$PRESET" --recipe "${RECIPE:-v75}" --arch snn --seq_len "${SEQ_LEN:-256}" --batch "${BATCH:-32}" --lr 1e-3 \
      --steps "$STEPS" --eval_every "${EVAL_EVERY:-$(( STEPS / 4 ))}" --eval_batches 10 --log_every 10 --save_every 0 --samples 0 --no-progress \
      --out "$OUT/$name" $flags ${AB_EXTRA:-} > "$OUT/$name.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
"$PY" - "$OUT" "$@" <<'PYEOF'
import json, sys
from pathlib import Path
out, res = Path(sys.argv[1]), {}
for v in sys.argv[2:]:
    name, flags = v.split('|', 1)
    m = out / name / 'metrics.jsonl'
    recs = [json.loads(l) for l in m.read_text().splitlines()] if m.exists() else []
    val = {r['step']: round(r['val_loss'], 4) for r in recs if r['kind'] == 'val'}
    res[name] = dict(flags=flags, val=val, final=val[max(val)] if val else None)
for name, r in sorted(res.items(), key=lambda kv: -(kv[1]['final'] or 1e9)):
    print(f"{name:10s} val {' '.join(f'{s}:{x:.3f}' for s, x in r['val'].items())}   ({r['flags'] or 'defaults'})")
(out / 'ab.json').write_text(json.dumps(res, indent=1))
PYEOF
exit $fail
