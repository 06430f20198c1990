"""One training run of the tiny SNN on the default corpus's validation rows, for the FSDP2 check (bench/fsdp_cpu.sh).

Run alone (one process) or under `torchrun --nproc_per_node 2` (gloo on CPU); `--fsdp` shards the model; `--resume CKPT`
continues from a checkpoint folder. Checkpoints every 3 steps; writes OUT/metrics.jsonl.
Usage: python bench/fsdp_cpu.py OUT BATCH_PER_PROCESS [--fsdp] [--resume CKPT] [--steps 6]
"""
import argparse, torch
from neuronspark.data import PretrainDataset
from neuronspark.tokenizer import load_tokenizer
from neuronspark.train import TrainConfig, build_model, train

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('out'); ap.add_argument('batch', type=int)
ap.add_argument('--fsdp', action='store_true', help='shard with FSDP2'); ap.add_argument('--resume', default=None, help='checkpoint folder to continue from')
ap.add_argument('--steps', type=int, default=6, help='optimizer steps')
a = ap.parse_args()
tok = load_tokenizer()
ds = PretrainDataset('out/data/val.jsonl', tok, seq_len=32)
torch.manual_seed(0)
model = build_model('snn', 'tiny')
cfg = TrainConfig(out_dir=a.out, steps=a.steps, batch_size=a.batch, accum=2, lr=3e-3, warmup=2, eval_every=a.steps, eval_batches=2,
                  log_every=1, save_every=3, progress=False, tensorboard=False, device='cpu', fsdp=a.fsdp)
print(train(model, ds, ds, cfg, resume=a.resume or False))
