"""`ns-dpo` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/dpo.py runs/sft ...
Every flag of ns-dpo applies (python bench/dpo.py --help)."""
from neuronspark.dpo import ns_dpo
ns_dpo()
