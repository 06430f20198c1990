"""`ns-eval-sft` from the source tree (no console script needed), e.g. the mean of three fine-tuned Llamas as one model:
    PYTHONPATH=. python bench/eval_sft.py runs/k/llama_s0/sft,runs/k/llama_s1/sft,runs/k/llama_s2/sft --ensemble
Every flag of ns-eval-sft applies (python bench/eval_sft.py --help)."""
from neuronspark.sft import ns_eval_sft
ns_eval_sft()
