# The fine-tuning plan of chapter 8a's GPU chain, sourced by bench/dpo_gpu.sh and bench/sft_variants.sh so that the
# recipes sft_variants.sh compares run on exactly the plan of dpo_gpu.sh's own fine-tuning (a variant's flags come
# after these and win). Steps, seed and evaluation size are each script's own.
SFT_PLAN="--seq_len 192 --batch 32 --lr 5e-4 --eval_batches 10 --save_every 0 --samples 0 --no-progress"
