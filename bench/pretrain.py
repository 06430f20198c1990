"""`ns-pretrain` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/pretrain.py --preset small ...
Every flag of ns-pretrain applies (python bench/pretrain.py --help)."""
from neuronspark.train import ns_pretrain
ns_pretrain()
