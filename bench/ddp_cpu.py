"""One training run of a tiny Llama on the default corpus's validation rows, for the DDP check (bench/ddp_cpu.sh).

Run alone (one process) or under `torchrun --nproc_per_node 2` (gloo on CPU); writes OUT/metrics.jsonl.
Usage: python bench/ddp_cpu.py OUT BATCH_PER_PROCESS [STEPS]
"""
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from neuronspark.data import PretrainDataset
from neuronspark.tokenizer import load_tokenizer
from neuronspark.train import TrainConfig, train

out, batch = sys.argv[1], int(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
tok = load_tokenizer()
ds = PretrainDataset('out/data/val.jsonl', tok, seq_len=32)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     num_key_value_heads=2, tie_word_embeddings=True, max_position_embeddings=512))
cfg = TrainConfig(out_dir=out, steps=steps, batch_size=batch, accum=2, lr=1e-2, warmup=4, eval_every=10, eval_batches=2,
                  log_every=1, save_every=0, progress=False, device='cpu')
print(train(model, ds, ds, cfg))
