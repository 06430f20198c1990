"""Seconds per training step (forward + backward, bf16 autocast, one GPU) of a preset with each read-out of the selective
neurons (chapter 7a, lever 4), side by side in one run, to check that `python bench/gap.py membrane` fits its call:

    python bench/bench_membrane_step.py [--preset small] [--batch 32] [--seq 256] [--steps 4]

Rows: 'spikes' (chapter 4a's fused selective kernel), 'membrane' (what `impl='auto'` runs on a GPU: the modulation in
PyTorch, then chapter 4's PLIF kernel with every frame's membrane; chapter 4a), and 'membrane, cpu path' (chapter 3's
PyTorch scan, for comparison: the model built with `impl='cpu'`). Prints each row's loss (the two membrane rows start
from the same weights and must agree closely) and its time per step relative to the spike read-out."""
import argparse, time, torch
from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM

def step_times(preset, readout, impl, batch, seq, steps):
    "Loss and seconds of each forward + backward step, from a fresh model of the gap recipe's configuration (seed 0)."
    torch.manual_seed(0)
    cfg = NeuronSparkConfig.from_preset(preset, prenorm=True, center_residual=True, selective_init='v75b', surrogate_alpha=2.0,
                                        hidden_readout=readout, impl=impl)
    m = NeuronSparkForCausalLM(cfg).cuda()
    ids = torch.randint(5, m.config.vocab_size, (batch, seq), device='cuda', generator=torch.Generator(device='cuda').manual_seed(0))
    ts = []
    for _ in range(steps):
        torch.cuda.synchronize(); t0 = time.time()
        with torch.autocast('cuda', dtype=torch.bfloat16): loss = m(input_ids=ids, labels=ids).loss
        loss.backward(); torch.cuda.synchronize(); ts.append(time.time() - t0)
    return loss.item(), ts

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='small'); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seq', type=int, default=256); ap.add_argument('--steps', type=int, default=4)
    a = ap.parse_args()
    print(f"{torch.cuda.get_device_name(0)}; {a.preset}, {a.batch} x {a.seq}, bf16 autocast; warm step = the fastest after the first", flush=True)
    base = None
    for name, ro, impl in (('spikes', 'spikes', 'auto'), ('membrane', 'membrane', 'auto'), ('membrane, cpu path', 'membrane', 'cpu')):
        loss, ts = step_times(a.preset, ro, impl, a.batch, a.seq, a.steps)
        warm = min(ts[1:] or ts); base = base or warm
        print(f'{name:20s} loss {loss:.4f}  s/step {[round(t, 3) for t in ts]}  x{warm / base:.2f} of spikes  '
              f'(1000 steps ~ {1000 * warm:.0f} s)', flush=True)
