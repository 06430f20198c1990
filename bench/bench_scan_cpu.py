"""CPU forward+backward throughput of the PLIF scan: autograd through `plif_ref`, `plif_scan`, spikingjelly's PLIF.

Elements = time steps x neurons; one element is one neuron-step, forward and backward. `plif_ref` and `plif_scan`
read a per-step decay and threshold `[T, M]` (as the selective neurons of chapter 2 do; one extra row runs `plif_scan`
with per-neuron ones, as a `PLIFNode` does), spikingjelly's
`ParametricLIFNode` one scalar decay and a constant threshold. The loss is `spikes.sum()`, so every implementation
runs its full surrogate backward. Times are the best of `--reps` runs after one warm-up (TorchScript compiles on
its first calls); cases above `--ref_max_elems` run once without warm-up.

`plif_ref` is chapter 1's reference exactly as it is exported: a Python loop over time that reads its inputs through
`unbind(0)`, so autograd through it costs time linear in T. It is the "autograd through a Python loop" baseline at
every T.
"""
import gc, json, os, platform, time
import torch
from fastcore.script import call_parse
from neuronspark.plif import plif_ref
from neuronspark.scan import plif_scan

def _inputs(T, M, seed=0):
    "Per-step decay, drive and threshold `[T, M]` (fp32, requiring grad) with a firing rate around 10-20%."
    g = torch.Generator().manual_seed(seed)
    beta = (0.8 + 0.19 * torch.rand(T, M, generator=g)).requires_grad_()
    u = (0.15 * torch.randn(T, M, generator=g) + 0.02).requires_grad_()
    theta = (0.1 + 0.2 * torch.rand(T, M, generator=g)).requires_grad_()
    return beta, u, theta

def _time(step, reps):
    "Best (forward, backward) seconds of `reps` calls of `step()`, which returns (t_fwd, t_bwd)."
    best = None
    for _ in range(reps):
        tf, tb = step()
        if best is None or tf + tb < sum(best): best = (tf, tb)
        gc.collect()
    return best

def _run_ours(fn, T, M, reps, warmup):
    beta, u, theta = _inputs(T, M)
    def step():
        for p in (beta, u, theta): p.grad = None
        t0 = time.perf_counter(); s, v = fn(beta, u, theta)
        t1 = time.perf_counter(); s.sum().backward()
        return t1 - t0, time.perf_counter() - t1
    if warmup: step()
    return _time(step, reps)

def _run_ours_neuron(T, M, reps, warmup):
    "`plif_scan` with per-neuron decay and threshold `[M]` (what a `PLIFNode` passes), drive `[T, M]`."
    beta, u, theta = _inputs(T, M)
    beta, theta = beta[0].detach().requires_grad_(), theta[0].detach().requires_grad_()
    def step():
        for p in (beta, u, theta): p.grad = None
        t0 = time.perf_counter(); s, v = plif_scan(beta, u, theta)
        t1 = time.perf_counter(); s.sum().backward()
        return t1 - t0, time.perf_counter() - t1
    if warmup: step()
    return _time(step, reps)

def _run_sj(T, M, reps, warmup):
    from spikingjelly.activation_based import neuron, surrogate, functional
    node = neuron.ParametricLIFNode(init_tau=2.0, decay_input=True, v_threshold=0.2, v_reset=None,
                                    surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True, step_mode='m')
    x = (0.3 * torch.randn(T, M, generator=torch.Generator().manual_seed(0)) + 0.04).requires_grad_()
    def step():
        functional.reset_net(node); x.grad = None; node.w.grad = None
        t0 = time.perf_counter(); s = node(x)
        t1 = time.perf_counter(); s.sum().backward()
        return t1 - t0, time.perf_counter() - t1
    if warmup: step()
    return _time(step, reps)

@call_parse
def main(Ts:str='256,2048,8192',  # sequence lengths, comma separated
         neurons:int=16384,         # neurons (columns) per step
         reps:int=3,                # timed repeats per case (best is kept)
         ref_max_elems:int=2**27,   # above this many elements the autograd baselines and spikingjelly run once, no warm-up
         out:str='',                # optional JSON file for the results
        ):
    "Benchmark CPU forward+backward throughput of the PLIF scans and print elements/s and ratios."
    M = neurons
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor()) if os.path.exists('/proc/cpuinfo') else platform.processor()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, load average {load:.1f} at start')
    print(f'fp32, {M} neurons; forward+backward; best of {reps} (above {ref_max_elems} elements: 1 run)')
    print(f'{"T":>6} {"implementation":<28} {"fwd s":>8} {"bwd s":>8} {"M elem/s":>9}')
    results = []
    for T in [int(t) for t in Ts.split(',')]:
        row = {'T': T, 'neurons': M}
        big = T * M > ref_max_elems
        cases = [('autograd: plif_ref', lambda: _run_ours(plif_ref, T, M, 1 if big else reps, not big)),
                 ('plif_scan', lambda: _run_ours(plif_scan, T, M, reps, True)),
                 ('plif_scan, per-neuron b/th', lambda: _run_ours_neuron(T, M, reps, True)),
                 ('spikingjelly PLIF (m)', lambda: _run_sj(T, M, 1 if big else reps, not big))]
        for name, run in cases:
            tf, tb = run(); gc.collect()
            row[name] = T * M / (tf + tb)
            print(f'{T:>6} {name:<28} {tf:8.3f} {tb:8.3f} {row[name] / 1e6:9.1f}', flush=True)
        ratios = ', '.join(f'{row["plif_scan"] / row[k]:.1f}x {k}' for k in row if k not in ('T', 'neurons') and not k.startswith('plif_scan'))
        print(f'{T:>6} plif_scan is {ratios}', flush=True)
        results.append(row)
    if out:
        with open(out, 'w') as f: json.dump(results, f, indent=1)
    return results
