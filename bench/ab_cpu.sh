#!/usr/bin/env bash
# Pretraining variants of the tiny preset one after another on a CPU (2 cores run one model at a time faster than two),
# each with the main job's plan (600 steps x 8 rows x 128 tokens, the same seed and data), the gap recipe and the
# variant's flags; then one JSON file with every variant's validation curve and best loss.
#   bash bench/ab_cpu.sh OUT.json 'name|flags' 'name|flags' ...
#   e.g. bash bench/ab_cpu.sh nbs/logs/read_cpu_tiny.json 'recipe|' 'read|--config block_read=selective'
# Env: PYTHON (default .venv/bin/python), STEPS (600), RUNS (folder of the runs, default runs/ab_cpu).
# A variant whose run already finished (final/ exists) is not trained again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?OUT.json}; shift
[ $# -ge 1 ] || { echo "usage: bash bench/ab_cpu.sh OUT.json 'name|flags' ..." >&2; exit 2; }
PY=${PYTHON:-.venv/bin/python}; STEPS=${STEPS:-600}; RUNS=${RUNS:-runs/ab_cpu}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ -f out/data/train.jsonl ] || "$PY" -c "from neuronspark.data import prepare_data; prepare_data('out/data')"
for v in "$@"; do
  name=${v%%|*}; flags=${v#*|}
  [ -f "$RUNS/$name/final/config.json" ] && { echo "[ab] $name: finished before, reused"; continue; }
  echo "[ab] $name: $flags"
  # shellcheck disable=SC2086
  "$PY" bench/pretrain.py --preset tiny --recipe gap --steps "$STEPS" --batch 8 --seq_len 128 --eval_every 100 --eval_batches 10 \
      --save_every 0 --samples 0 --no-progress --force --out "$RUNS/$name" $flags > "$RUNS.$name.log" 2>&1 || { echo "[ab] $name failed: $RUNS.$name.log"; exit 1; }
done
"$PY" - "$OUT" "$RUNS" "$STEPS" "$@" <<'PYEOF'
import json, sys
from pathlib import Path
out, runs, steps, variants = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
res = json.loads(out.read_text()) if out.is_file() else {}
res.setdefault('arms', {})
res['settings'] = dict(preset='tiny', recipe='gap', steps=steps, batch=8, seq_len=128, eval_batches=10, device='cpu')
for v in variants:
    name, flags = v.split('|', 1)
    recs = [json.loads(l) for l in (runs / name / 'metrics.jsonl').read_text().splitlines() if l.strip()]
    val = [(r['step'], r['val_loss']) for r in recs if 'val_loss' in r]
    res['arms'][name] = dict(flags=flags, val=val, best_val=min(v for _, v in val))
    print(f"{name:12s} best val {res['arms'][name]['best_val']:.3f}   curve " + ' '.join(f'{s}:{v:.3f}' for s, v in val))
out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(res, indent=1) + '\n')
print(f'wrote {out}')
PYEOF
