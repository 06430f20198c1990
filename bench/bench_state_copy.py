"""Issue 24's decode step: what writing the membranes back costs. `StaticDecoder` copies every layer's new state into its
fixed buffers after each step (six tensors a layer, 120 copies for v75); this times the step recorded as a CUDA graph
with those copies made one tensor at a time against the package's own `_copy_states_` (one `torch._foreach_copy_`), side by side in
one run, batch 1, bf16 autocast, for fp32 weights and for bf16 matrices; checks that both give the same logits over
`--check_tokens` consecutive tokens, and prints the ratio. A third variant skips the copies altogether (its state stops
moving, so its tokens are wrong): the most that a layer writing its state straight into the buffers could save. A fourth
puts back what the scans used to do before the state reached the buffers: two copies of every last membrane (out of
the kernel's checkpoints, then once more by the module), as 240 small copy kernels in front of the package's
write-back; today each kernel stores the last membrane into a tensor of its own and the module keeps it as it is. A
fifth computes every neuron group's decay sigmoid(w) at every step again (100 sigmoid kernels for v75), where the
package's decoder computes them once when it is made (`decay_table`, `fixed_decays`).

    python bench/bench_state_copy.py --out bench/results/state_copy_h100.json     # GPU, v75, about a minute
    python bench/bench_state_copy.py --device cpu --preset tiny --steps 3         # CPU smoke test (no graph, fp32)
"""
import argparse, contextlib, copy, json, statistics, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sample import timer

def copy_loop_(dst, src):
    "The states written back one tensor at a time (one copy kernel each)."
    for d, s in zip(dst, src):
        for a, b in zip(d, s): a.copy_(b)

def copy_none_(dst, src):
    "No write-back at all: the ceiling for in-place state, not a decoder (the state never moves)."

def twice_copied(copy_):
    "`copy_` after two copies of every new state: the copies each scan's last membrane went through before it was a state."
    return lambda dst, src: copy_(dst, [tuple(v.clone().clone() for v in s) for s in src])

def decays_each_step(table):
    "In place of `fixed_decays`: the groups keep computing sigmoid(w) at every call."
    return contextlib.nullcontext()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='v75'); ap.add_argument('--device', default='cuda')
    ap.add_argument('--context', type=int, default=128, help='prompt tokens before the timed steps')
    ap.add_argument('--steps', type=int, default=50, help='timed steps per round (median of all rounds reported)')
    ap.add_argument('--rounds', type=int, default=5, help='alternating rounds of the variants (drift hits them alike)')
    ap.add_argument('--check_tokens', type=int, default=64)
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    import neuronspark.sample as S
    shipped, fixed = S._copy_states_, S.fixed_decays   # what StaticDecoder uses: one multi-tensor copy, decays computed once
    from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM, prefill
    from neuronspark.runs import quantize_weights
    dev = torch.device(a.device); cuda = dev.type == 'cuda'; measure = timer(dev)
    amp = torch.bfloat16 if cuda else None
    torch.manual_seed(0)
    cfg = NeuronSparkConfig.from_preset(a.preset)
    snn = NeuronSparkForCausalLM(cfg).to(dev).eval()
    models = {'fp32 weights': snn}
    if cuda: models['bf16 matrices'] = quantize_weights(copy.deepcopy(snn), 'bf16')
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, cfg.vocab_size, (1, a.context), generator=g).to(dev)
    feed = torch.randint(5, cfg.vocab_size, (a.check_tokens,), generator=g).to(dev)
    info = dict(device=torch.cuda.get_device_name(dev) if cuda else 'cpu', torch=torch.__version__, preset=a.preset,
                layers=cfg.num_hidden_layers, context=a.context, steps=a.steps, rounds=a.rounds,
                command=' '.join(['bench/bench_state_copy.py'] + sys.argv[1:]), date=time.strftime('%Y-%m-%d %H:%M'), rows={})
    print(f"{info['device']} | {a.preset}, {cfg.num_hidden_layers} layers | context {a.context} | batch 1", flush=True)
    for name, m in models.items():
        with torch.no_grad(), torch.autocast(dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            _, cache = prefill(m, ids)
        sds, logits = {}, {}
        fns = {'loop': (copy_loop_, fixed), 'foreach': (shipped, fixed), 'none': (copy_none_, fixed),
               'cloned': (twice_copied(shipped), fixed), 'sigmoids': (shipped, decays_each_step)}
        for var, (fn, dec) in fns.items():
            S._copy_states_, S.fixed_decays = fn, dec         # StaticDecoder's _step looks the names up at every call
            sds[var] = sd = S.StaticDecoder(m, cache, autocast=amp)
            logits[var] = torch.stack([sd.step(t.view(1), check=False).float().clone() for t in feed])
        same = all(bool(torch.equal(logits[v], logits['foreach'])) for v in ('loop', 'cloned', 'sigmoids'))
        ms = {k: [] for k in sds}
        tok = feed[:1]
        for _ in range(a.rounds):
            for var, sd in sds.items():
                S._copy_states_, S.fixed_decays = fns[var]    # a graph replays what it recorded; an eager step looks them up
                ms[var] += measure(lambda: sd.step(tok, check=False), a.steps)
        med = {k: statistics.median(v) for k, v in ms.items()}
        row = dict(loop_ms=med['loop'], foreach_ms=med['foreach'], no_copy_ms=med['none'], speedup=med['loop'] / med['foreach'],
                   ceiling_speedup=med['loop'] / med['none'], same_logits=same,
                   cloned_ms=med['cloned'], own_state_speedup=med['cloned'] / med['foreach'],
                   sigmoids_ms=med['sigmoids'], fixed_decays_speedup=med['sigmoids'] / med['foreach'],
                   graph=sds['loop'].graph is not None, n_state_tensors=sum(len(s) for s in sds['loop'].states))
        info['rows'][name] = row
        print(f"{name:14s}: one copy per tensor {med['loop']:.3f} ms | foreach {med['foreach']:.3f} ms | "
              f"{row['speedup']:.2f}x | no copy (ceiling) {med['none']:.3f} ms, {row['ceiling_speedup']:.2f}x | "
              f"with each state copied twice first (as before) {med['cloned']:.3f} ms: the package {row['own_state_speedup']:.2f}x faster | "
              f"with the decays computed at every step {med['sigmoids']:.3f} ms: the package {row['fixed_decays_speedup']:.2f}x faster | "
              f"{row['n_state_tensors']} state tensors | logits over {a.check_tokens} tokens "
              f"{'identical' if same else 'DIFFERENT'}", flush=True)
    S._copy_states_, S.fixed_decays = shipped, fixed
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(info, indent=1)); print('wrote', a.out)

if __name__ == '__main__': main()
