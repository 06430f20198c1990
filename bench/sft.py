"""`ns-sft` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/sft.py --init runs/pretrain/final ...
Every flag of ns-sft applies (python bench/sft.py --help)."""
from neuronspark.sft import ns_sft
ns_sft()
