#!/usr/bin/env bash
# Chapter 8a's goal on one GPU, in one call: bench/dpo_gpu.sh (pretrain -> ns-sft -> ns-dpo, held-out sentiment accuracy
# after SFT and after DPO) for the small SNN and the matched Llama, for every seed, all pipelines side by side; then one
# summary with each arm's mean, spread and per-seed accuracies.
#   bash bench/dpo_seeds.sh OUT [SEEDS]        # SEEDS: default "0 1 2"
# Environment: everything bench/dpo_gpu.sh reads (PRE_STEPS, SFT_STEPS, DPO_STEPS, DPO_LRS: one DPO run per rate and
#   pipeline, DPO_EXTRA, BETA, EVAL_N, PRESET, STAGES: "pre" pretrains only, "sft" also fine-tunes, and a later call
#   without it goes on from there; PRE_MINUTES: pretraining stops after that long with a checkpoint, and the same command
#   resumes it; PRE_PICK), plus ARCHS (default "snn llama"), SNN_PRE_STEPS (the SNNs' pretraining plan when it differs
#   from the Llamas', e.g. chapter 7a's 3,600 distilled steps beside the Llama's own best plan of 800; default PRE_STEPS) and KD (1: the Llamas pretrain first, then each SNN distils
#   from the Llama of its seed, chapter 7a's best recipe; with PRE_PICK=best from that Llama at its lowest validation
#   loss), and SFT_KD (1: the Llamas fine-tune first, then each SNN's fine-tuning distils from the fine-tuned Llama of
#   its seed, weight SFT_KD_WEIGHT, default 0.9: chapter 8's best fine-tuning; mean: from the mean of all the seeds'
#   fine-tuned Llamas, an EnsembleLM; the SNNs pretrain while the Llamas fine-tune). Writes OUT/<arch>_s<seed>/summary.json
#   and OUT/seeds.json (per arm: pretrain_val, sft and dpo_<rate>).
# The shared data (out/data, out/sft, out/dpo) is built once before the pipelines start, so that they do not race.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/dpo_seeds}; SEEDS=${2:-0 1 2}; PY=${PYTHON:-python}; ARCHS=${ARCHS:-snn llama}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
case "${SFT_KD:-0}" in 0|1|mean) ;; *) echo "SFT_KD must be 0, 1 or mean, got ${SFT_KD}"; exit 2;; esac
mkdir -p "$OUT"
"$PY" -c "
from neuronspark.data import prepare_data; from neuronspark.sft import prepare_sft_data; from neuronspark.dpo import prepare_dpo_data
prepare_data('out/data'); prepare_sft_data('out/sft'); prepare_dpo_data('out/dpo')"
if [ "${KD:-0}" = 1 ]; then                    # the teachers first: each Llama's pretraining, side by side
  for s in $SEEDS; do STAGES=pre ARCH=llama bash bench/dpo_gpu.sh "$OUT/llama_s$s" "$s" >> "$OUT/llama_s$s.log" 2>&1 & done
  wait || true
  for s in $SEEDS; do      # a teacher stopped by PRE_MINUTES goes on in the next call; its student waits for it
    [ -f "$OUT/llama_s$s/pre/complete" ] || { echo "$OUT/llama_s$s: the teacher's pretraining is not finished; run the same command again"; exit 0; }
  done
fi
pipeline() {   # pipeline ARCH SEED: bench/dpo_gpu.sh for one arm, with its teachers; STAGES from the caller's environment
  local arch=$1 s=$2 t sft_teacher="" teacher=""
  if [ "$arch" = snn ]; then case "${SFT_KD:-0}" in
    1) sft_teacher="$OUT/llama_s$s/sft" ;;
    mean) for t in $SEEDS; do sft_teacher+="${sft_teacher:+,}$OUT/llama_s$t/sft"; done ;;
  esac; fi
  if [ "${KD:-0}" = 1 ] && [ "$arch" = snn ]; then teacher="$OUT/llama_s$s/pre/${PRE_PICK:-final}"; fi   # best: at its lowest val
  local steps=${PRE_STEPS:-800}; [ "$arch" = snn ] && steps=${SNN_PRE_STEPS:-$steps}
  PRE_STEPS=$steps TEACHER=$teacher SFT_TEACHER=$sft_teacher ARCH=$arch bash bench/dpo_gpu.sh "$OUT/${arch}_s$s" "$s" >> "$OUT/${arch}_s$s.log" 2>&1
}
if [ "${SFT_KD:-0}" != 0 ] && [ "${STAGES:-all}" != pre ]; then
  # the fine-tuned teachers next, side by side, and beside them the students' pretraining, which does not need them
  # (one small model leaves most of the GPU idle: the two phases overlap almost for free)
  for s in $SEEDS; do STAGES=sft pipeline llama "$s" & done
  case " $ARCHS " in *" snn "*) for s in $SEEDS; do STAGES=pre pipeline snn "$s" & done;; esac
  wait || true
  for s in $SEEDS; do
    [ -f "$OUT/llama_s$s/sft/sentiment_eval.json" ] || { echo "$OUT/llama_s$s: the teacher's fine-tuning is not finished (see its log); run the same command again"; exit 0; }
  done
fi
for arch in $ARCHS; do                         # every arm's chain, side by side (stages already done are skipped)
  for s in $SEEDS; do pipeline "$arch" "$s" & done
done
wait || true                                   # a failed pipeline is reported below, not here
"$PY" - "$OUT" <<'PYEOF'
import json, statistics as st, sys
from pathlib import Path
out, res = Path(sys.argv[1]), {}
for d in sorted(p for p in out.iterdir() if p.is_dir()):
    arch, seed = d.name.rsplit('_s', 1)
    f = d / 'summary.json'
    if not f.is_file(): print(f'{d.name}: no summary.json (see {d.name}.log)'); continue
    r = json.loads(f.read_text())
    res.setdefault(arch, []).append(dict(seed=int(seed), pretrain_val=r['pretrain_val'], sft=r['sft']['accuracy'],
                                         majority=r['sft']['majority'], **{f'dpo_{lr}': d['accuracy'] for lr, d in r['dpo'].items()}))
summary = {}
for arch, runs in res.items():
    row = {'seeds': [x['seed'] for x in runs], 'runs': runs}
    keys = ['pretrain_val', 'sft'] + sorted({k for x in runs for k in x if k.startswith('dpo_')})   # one per DPO rate
    for k in keys:
        v = [x[k] for x in runs if k in x]
        if v: row[k] = dict(mean=st.mean(v), min=min(v), max=max(v), spread=max(v) - min(v), n=len(v))
    summary[arch] = row
    line = '  '.join(f"{k} {row[k]['mean']:.4f} [{row[k]['min']:.4f}, {row[k]['max']:.4f}]" for k in keys if k in row)
    print(f'{arch:6s} {len(runs)} seeds: {line}')
(out / 'seeds.json').write_text(json.dumps(summary, indent=1))
print(f'wrote {out / "seeds.json"}')
PYEOF
