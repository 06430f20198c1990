#!/usr/bin/env bash
# Fine-tuning recipes compared on the same pretrained models (issue 19's goal 2: which fine-tuning lifts the SNN's
# held-out sentiment accuracy). For every arm of a bench/dpo_seeds.sh folder whose pretraining is complete
# (OUT/<arch>_s<seed>/pre/complete), one ns-sft run per variant, all side by side on one GPU; then one summary.
#   bash bench/sft_variants.sh OUT "name:flags;name:flags;..."
#   e.g. bash bench/sft_variants.sh runs/f "adamw:--lr 5e-4;muon:--optimizer muon --lr 1e-3;neuron10:--lr 5e-4 --neuron_lr_mult 10"
#   In a variant's flags {out} stands for OUT and {seed} for the arm's seed, e.g. distilling each SNN from the Llama of
#   its seed, fine-tuned by dpo_seeds.sh: ARCHS=snn bash bench/sft_variants.sh runs/f "kd5:--teacher {out}/llama_s{seed}/sft --kd_weight 0.5"
#   or from the mean of every seed's: "kdmean:--teacher {out}/llama_s0/sft,{out}/llama_s1/sft,{out}/llama_s2/sft --kd_weight 0.9"
# Environment: SFT_STEPS (600), EVAL_N (0: all 862 held-out reviews), PRE_PICK (final; best: start from pre/best/, a
#   pretraining run with --keep_best), ARCHS ("snn llama"), PYTHON (python), GPU_GIB (the GPU memory the runs may
#   hold together; default: the first GPU's, from nvidia-smi). A run starts only when it fits beside those running,
#   counting 16 GiB for a small SNN's fine-tuning (it holds 13-16 GB) and 4 for a small Llama's (about 3): twelve at
#   once ran an 80 GB H100 out of memory, eighteen an H200. Lower it when other runs share the GPU. JOBS: at most this
#   many runs at once as well (default: no limit but the memory). Each variant writes
#   OUT/<arch>_s<seed>/sft_<name>/ and is skipped when its sentiment_eval.json is there already. Every run uses the
#   plan of bench/dpo_gpu.sh's fine-tuning (bench/sft_plan.sh, and the arm's seed) plus the variant's flags, which win.
#   A run that dies at its start of a CUDA error (one that crowding the GPU causes) is started once more (bench/cuda_retry.sh).
# Writes OUT/sft_variants.json: per arch and variant (every one in OUT, earlier calls' too), the mean, lowest and highest
#   accuracy over the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bash bench/sft_variants.sh OUT \"name:flags;...\"}; VARIANTS=${2:?give the variants, e.g. \"adamw:--lr 5e-4\"}
PY=${PYTHON:-python}; PICK=${PRE_PICK:-final}; ARCHS=${ARCHS:-snn llama}
if [ -z "${GPU_GIB:-}" ]; then
  mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -n 1 || true)
  [[ "$mib" =~ ^[0-9]+$ ]] && GPU_GIB=$(( mib / 1024 )) || GPU_GIB=140
fi
JOBS=${JOBS:-1000}
for v in GPU_GIB JOBS; do [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive whole number, got ${!v}"; exit 2; }; done
declare -A holds=()            # running run's pid -> the GiB it is counted for
held() {                       # GiB and number of the runs still running
  local gib=0 n=0 p
  for p in "${!holds[@]}"; do kill -0 "$p" 2>/dev/null && { gib=$((gib + holds[$p])); n=$((n + 1)); }; done
  echo "$gib $n"
}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[ "$PICK" = final ] || [ "$PICK" = best ] || { echo "PRE_PICK must be final or best, got $PICK"; exit 2; }
. bench/sft_plan.sh                             # SFT_PLAN: dpo_gpu.sh's fine-tuning flags
. bench/cuda_retry.sh                           # again LOG DIR CMD: a run started once more after a CUDA error at its start
sft_run() {   # sft_run DIR SEED FLAGS: one fine-tuning (its log: DIR.log)
  # shellcheck disable=SC2086  # the plan's and the variant's flags are split on purpose
  "$PY" bench/sft.py --init "$(dirname "$1")/pre/$PICK" --out "$1" --force $SFT_PLAN --steps "${SFT_STEPS:-600}" \
      --seed "$2" --eval_n "${EVAL_N:-0}" $3 > "$1.log" 2>&1
}
IFS=';' read -r -a specs <<< "$VARIANTS"
for spec in "${specs[@]}"; do       # names become folder names: check them all before anything starts
  name=${spec%%:*}
  [[ "$spec" == *:* && "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad variant '$spec': expected name:flags, name of letters, digits, _ . -"; exit 2; }
done
n=0
for arch in $ARCHS; do
  for d in "$OUT/${arch}"_s[0-9]; do
    [ -f "$d/pre/complete" ] || { echo "$d: pretraining not complete, skipped"; continue; }
    seed=${d##*_s}
    for spec in "${specs[@]}"; do
      name=${spec%%:*}; flags=${spec#*:}; flags=${flags//\{out\}/$OUT}; flags=${flags//\{seed\}/$seed}
      [ -f "$d/sft_$name/sentiment_eval.json" ] && continue
      need=4; [ "$arch" = snn ] && need=16
      while read -r gib running < <(held); [ "$running" -gt 0 ] && { [ $((gib + need)) -gt "$GPU_GIB" ] || [ "$running" -ge "$JOBS" ]; }; do
        wait -n || true        # until this run fits beside the others (one runs alone whatever it needs)
      done
      again "$d/sft_$name.log" "$d/sft_$name" sft_run "$d/sft_$name" "$seed" "$flags" &
      holds[$!]=$need; n=$((n + 1))
    done
  done
done
echo "started $n fine-tuning runs"; wait || true      # a failed run shows as missing below
"$PY" - "$OUT" "$VARIANTS" "$ARCHS" <<'PYEOF'
import json, statistics as st, sys
from pathlib import Path
# every arm and variant in OUT, not only this call's: a call for ARCHS=snn adds to an earlier call's Llamas, not replaces them
out, names, archs = Path(sys.argv[1]), [s.split(':', 1)[0] for s in sys.argv[2].split(';')], sys.argv[3].split()
res = {}
for d in sorted(p for p in out.iterdir() if p.is_dir() and '_s' in p.name):
    arch, seed = d.name.rsplit('_s', 1)
    for name in sorted({*names, *(v.name[4:] for v in d.glob('sft_*') if (v / 'sentiment_eval.json').is_file())}):
        f = d / f'sft_{name}' / 'sentiment_eval.json'
        if not f.is_file():
            if arch in archs: print(f'{d.name}/sft_{name}: no result (see {d.name}/sft_{name}.log)')
            continue
        e = json.loads(f.read_text())
        res.setdefault(arch, {}).setdefault(name, []).append(dict(seed=int(seed), accuracy=e['accuracy'], other=e['other']))
summary = {arch: {name: dict(runs=runs, mean=st.mean(r['accuracy'] for r in runs), min=min(r['accuracy'] for r in runs),
                             max=max(r['accuracy'] for r in runs)) for name, runs in v.items()} for arch, v in res.items()}
for arch, v in summary.items():
    for name, r in v.items():
        print(f"{arch:6s} {name:12s} {len(r['runs'])} seeds: mean {r['mean']:.1%}  ({r['min']:.1%} to {r['max']:.1%})")
(out / 'sft_variants.json').write_text(json.dumps(summary, indent=1))
print(f'wrote {out / "sft_variants.json"}')
PYEOF
