"""Seconds per training step (forward + backward, bf16 autocast, one GPU) of a preset with each read-out of the selective
neurons (chapter 7a, lever 4), to check that `python bench/gap.py membrane` fits its call before running it:

    python bench/bench_membrane_step.py [--preset small] [--batch 32] [--seq 256] [--steps 4]

Rows: 'spikes' (chapter 4's fused Triton kernel), 'membrane' (what `impl='auto'` runs: chapter 3's PyTorch scan, a
loop over frames, since no Triton kernel returns the membrane yet), and, for comparison only, the membrane through
chapter 4's plain 'plif' kernel with every frame's membrane (the modulation in PyTorch first): a fast path that would
need no new kernel. The script swaps that path in for its last row only; the package never runs it."""
import argparse, time, torch
from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM
from neuronspark.plif import _REGISTRY, plif, resolve_impl
from neuronspark.selective import selective_modulation

def step_times(preset, readout, batch, seq, steps):
    "Loss and seconds of each forward + backward step, from a fresh model of the recipe's configuration."
    torch.manual_seed(0)
    m = NeuronSparkForCausalLM(NeuronSparkConfig.from_preset(preset, prenorm=True, center_residual=True, selective_init='v75b',
                                                             surrogate_alpha=2.0, hidden_readout=readout)).cuda()
    ids = torch.randint(5, m.config.vocab_size, (batch, seq), device='cuda')
    ts = []
    for _ in range(steps):
        torch.cuda.synchronize(); t0 = time.time()
        with torch.autocast('cuda', dtype=torch.bfloat16): loss = m(input_ids=ids, labels=ids).loss
        loss.backward(); torch.cuda.synchronize(); ts.append(time.time() - t0)
    return loss.item(), ts

def _membrane_via_plif_kernel(r, b_beta, b_alpha, b_th, v_min, v0, alpha):
    beta, u, theta = selective_modulation(r, b_beta, b_alpha, b_th, v_min)
    s, v = plif(beta, u, theta, v0, alpha, impl='triton')               # every frame's membrane, with its gradient
    return (v.float() + theta * s.detach()).to(r.dtype), v[-1].float()

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='small'); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seq', type=int, default=256); ap.add_argument('--steps', type=int, default=4)
    a = ap.parse_args()
    x = torch.zeros(1, device='cuda')
    print(f"{torch.cuda.get_device_name(0)}; {a.preset}, {a.batch} x {a.seq}; 'auto' runs selective_plif by "
          f"{resolve_impl('selective_plif', x)!r}, selective_plif_membrane by {resolve_impl('selective_plif_membrane', x)!r}", flush=True)
    rows = [('spikes', 'spikes'), ('membrane', 'membrane'), ('membrane via the plif kernel', 'membrane')]
    for name, ro in rows:
        if name.endswith('plif kernel'): _REGISTRY['selective_plif_membrane']['cpu'] = _membrane_via_plif_kernel
        loss, ts = step_times(a.preset, ro, a.batch, a.seq, a.steps)
        print(f'{name:30s} loss {loss:.4f}  s/step {[round(t, 3) for t in ts]}  (1000 steps ~ {1000 * min(ts[1:] or ts):.0f} s)', flush=True)
