"""The fused PLIF kernels against the path they replace, at the v75 layer shapes, on one GPU.

Old path ('unfused'): the modulation (selective neurons) or the drive (1-beta)x (PLIFNode) in PyTorch, then
`plif_triton` writing the full [T, ...] membrane, spikes cast back to the input dtype: what ran before the fused
kernels. Fused: `selective_triton` / `plif_node_triton`. Shapes: T = 8192 frames (512 tokens x 16), batch B in {2, 8};
selective W = D*N = 6144 with r a bf16 slice of a [T, B, 4*6144 + 2*768] GEMM output; PLIFNode W = 2*4608 (the
FFN's gate/up neurons) with bf16 x. Times forward and forward+backward (CUDA events, median of --reps), a
device-to-device copy of r (or x) as the bandwidth yardstick, and checks that both paths agree (spike agreement,
max |difference| of every gradient).

    python bench/bench_fused.py --out bench/results/fused_h100.json
    python bench/bench_fused.py --chunks 2,4,8,16    # also the fused kernels' time per chunk length (`FusedTuning.chunk`)
    python bench/bench_fused.py --segs 0,64,256,1024 # ... per segment length of the backward (`FusedTuning.seg`; 0: one walk)
    TRITON_INTERPRET=1 python bench/bench_fused.py --device cpu --small     # smoke test, tiny shapes, in the interpreter
"""
from __future__ import annotations
import dataclasses, json, os, statistics, sys, time
from pathlib import Path
import torch
from fastcore.script import call_parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # the source tree's neuronspark, without installing it
from neuronspark.plif import plif, plif_node
from neuronspark.selective import selective_biases, selective_modulation, selective_plif
from neuronspark.block import plif_node_and, spike_and

def _timer(dev, reps:int):
    "Median seconds of `fn()` over `reps` runs after one warm-up (CUDA events on a GPU, perf_counter on a CPU)."
    def timeit(fn):
        fn()
        out = []
        for _ in range(reps):
            if dev.type == 'cuda':
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record(); fn(); b.record(); torch.cuda.synchronize(dev); out.append(a.elapsed_time(b) / 1e3)
            else:
                t0 = time.perf_counter(); fn(); out.append(time.perf_counter() - t0)
        return statistics.median(out)
    return timeit

def make_case(kind:str, T:int, B:int, W:int, D:int, dev, seed:int=0):
    "Inputs of one case: ('selective': r a bf16 slice of the wider GEMM output, biases) or ('node': bf16 x, beta, theta)."
    g = torch.Generator().manual_seed(seed)
    if kind == 'selective':
        N = W // D
        big = torch.randn(T, B, 4 * W + 2 * D, generator=g) * 0.5
        big[..., :W] += 0.3
        big = big.to(dev, torch.bfloat16)
        params = [p.to(dev).requires_grad_() for p in selective_biases(D, N, init='v75')]
        return big, params
    x = (torch.randn(T, B, W, generator=g) * 0.8 + 0.2).to(dev, torch.bfloat16)
    beta = (0.5 + 0.45 * torch.rand(W, generator=g)).to(dev).requires_grad_()
    theta = (0.1 + 0.3 * torch.rand(W, generator=g)).to(dev).requires_grad_()
    return x, [beta, theta]

def old_path(kind, x, params):
    "Before the fused kernels: the modulation (or the drive) in PyTorch, then `plif_triton` writing the whole membrane."
    if kind == 'selective': beta, u, theta = selective_modulation(x, *params, 0.1)
    else: beta, u, theta = params[0], (1 - params[0]) * x, params[1]
    s, v = plif(beta, u, theta, None, impl='triton')
    return s.to(x.dtype), v[-1]

def fused_path(kind, x, params, cfg=None):
    "The fused kernel of `kind`, by the library's choice (`impl='triton'`), or with the launch shape `cfg`."
    if cfg is None:
        if kind == 'and': return plif_node_and(x, params[0], params[1], None, impl='triton')
        return (selective_plif(x, *params, 0.1, None, impl='triton') if kind == 'selective'
                else plif_node(x, params[0], params[1], None, impl='triton'))
    from neuronspark.kernels.fused import plif_node_triton, selective_triton
    from neuronspark.kernels.spike_and import plif_and_triton
    if kind == 'and': return plif_and_triton(x, params[0], params[1], None, cfg=cfg)
    return (selective_triton(x, *params, 0.1, None, cfg=cfg) if kind == 'selective'
            else plif_node_triton(x, params[0], params[1], None, cfg=cfg))

def run(kind, data, params, fused:bool, backward:bool, gs=None, cfg=None):
    "One call of the old or the fused path (launch shape `cfg`: the library's when None); with `backward`, also the backward; returns (s, v, grads)."
    W = params[0].shape[0]
    x = (data[..., :4 * W] if kind == 'selective' else data).detach().requires_grad_(backward)
    with torch.set_grad_enabled(backward):
        if kind == 'and' and not fused:  # before: the node kernel, then spike_and; fused: one kernel each way, spikes never stored
            s, v = plif_node(x, params[0], params[1], None, impl='triton'); s = spike_and(s)
        elif fused: s, v = fused_path(kind, x, params, cfg)
        else: s, v = old_path(kind, x, params)
        if not backward: return s, v, None
        grads = torch.autograd.grad(s, [x, *params], gs)
    return s, v, grads

def bench_case(kind, T, B, W, D, dev, reps):
    "Times and agreement of one case; a flat dict."
    data, params = make_case(kind, T, B, W, D, dev)
    timeit = _timer(dev, reps)
    Wout = W // 2 if kind == 'and' else W                              # the AND writes half the columns
    gs = torch.randn(T, B, Wout, generator=torch.Generator().manual_seed(1)).to(dev, data.dtype)
    src = data[..., :4 * W] if kind == 'selective' else data
    dst = torch.empty(src.shape, dtype=src.dtype, device=dev)
    row = dict(kind=kind, T=T, B=B, W=W, dtype=str(data.dtype)[6:])
    row['copy_s'] = timeit(lambda: dst.copy_(src))
    row['copy_GBps'] = 2 * src.numel() * src.element_size() / row['copy_s'] / 1e9
    for name, fused in (('old', False), ('fused', True)):
        row[f'{name}_fwd_s'] = timeit(lambda: run(kind, data, params, fused, False))
        row[f'{name}_fwdbwd_s'] = timeit(lambda: run(kind, data, params, fused, True, gs))
    k = 4 if kind == 'selective' else 1
    esz = data.element_size()
    row['min_bytes_fwd'] = T * B * (W * k * esz + Wout * esz)           # read r (or x), write spikes (the AND: half as many)
    row['min_bytes_fwdbwd'] = row['min_bytes_fwd'] + T * B * (W * k * esz + Wout * esz + W * k * esz)   # + read r, d_s; write d_r
    for name in ('old', 'fused'):
        row[f'{name}_fwd_GBps'] = row['min_bytes_fwd'] / row[f'{name}_fwd_s'] / 1e9
        row[f'{name}_fwdbwd_GBps'] = row['min_bytes_fwdbwd'] / row[f'{name}_fwdbwd_s'] / 1e9
    row['ratio_fwd'] = row['old_fwd_s'] / row['fused_fwd_s']
    row['ratio_fwdbwd'] = row['old_fwdbwd_s'] / row['fused_fwdbwd_s']
    (s0, v0, g0), (s1, v1, g1) = (run(kind, data, params, f, True, gs) for f in (False, True))
    row['spike_agreement'] = (s0 == s1).float().mean().item()
    row['max_abs_diff_v'] = (v0.float() - v1.float()).abs().max().item()
    for n, a, b in zip(['d_in'] + (['d_b_beta', 'd_b_alpha', 'd_b_th'] if kind == 'selective' else ['d_beta', 'd_theta']), g0, g1):
        row[f'max_abs_diff_{n}'] = (a.float() - b.float()).abs().max().item()
        row[f'max_abs_{n}'] = a.float().abs().max().item()
    del data, params, dst
    if dev.type == 'cuda': torch.cuda.empty_cache()
    return row

def chunk_sweep(kind, T, B, W, D, dev, reps, chunks, segs, deeps=(None,)) -> list:
    """Fused forward and forward+backward time of one case for every chunk length in `chunks`, backward segment length
    in `segs` (0: one walk over T) and forward prefetch depth in `deeps` (False one chunk ahead, True two): the fields
    of the family's `FusedTuning`, passed to the kernels as a launch shape; None in any keeps the library's value
    (segments and DEEP: the AND kernels have neither)."""
    from neuronspark.kernels.fused import DRIVE_TUNING, SELECTIVE_TUNING, fused_config
    from neuronspark.kernels.spike_and import AND_TUNING, and_config
    data, params = make_case(kind, T, B, W, D, dev)
    gs = torch.randn(T, B, W // 2 if kind == 'and' else W, generator=torch.Generator().manual_seed(1)).to(dev, data.dtype)
    timeit, rows = _timer(dev, reps), []
    base = {'selective': SELECTIVE_TUNING, 'node': DRIVE_TUNING, 'and': AND_TUNING}[kind]
    for ch in chunks:
        for sg in segs:
            for dp in deeps if kind != 'and' else deeps[:1]:
                if kind == 'and' and sg != segs[0]: continue   # the AND kernels have no segments
                given = dict(chunk=ch) if kind == 'and' else dict(chunk=ch, seg=sg, deep=dp)
                tun = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
                c, g, d = tun.chunk, tun.seg, tun.deep
                if g is not None and g % c: continue       # None: auto_segment picks a multiple of the chunk
                cfg = (and_config(B, W // 2, dev, tun) if kind == 'and' else fused_config(B, W, kind == 'selective', dev, T, tun))
                rows.append(dict(kind=kind, B=B, W=W, chunk=c, seg=g, deep=d, fwd_s=timeit(lambda: run(kind, data, params, True, False, cfg=cfg)),
                                 fwdbwd_s=timeit(lambda: run(kind, data, params, True, True, gs, cfg=cfg))))
                print(f"  {kind} B={B} chunk {c} seg {'auto' if g is None else g} deep {'auto' if d is None else d}: fwd {1e3 * rows[-1]['fwd_s']:.3f} ms, "
                      f"fwd+bwd {1e3 * rows[-1]['fwdbwd_s']:.3f} ms", flush=True)
    del data, params
    if dev.type == 'cuda': torch.cuda.empty_cache()
    return rows

def fmt(rows) -> str:
    "The rows as a text table: ms, old/fused ratios, achieved GB/s of the minimal bytes next to the copy's."
    head = (f"{'kernel':10}{'B':>3}{'W':>6} {'copy ms':>8}{'copy GB/s':>10} | {'old fwd':>8}{'fused':>8}{'x':>6} | "
            f"{'old f+b':>8}{'fused':>8}{'x':>6} | {'fused GB/s f, f+b':>18} | {'spikes =':>9}{'max|dgrad|':>11}")
    out = [head, '-' * len(head)]
    for r in rows:
        dg = max(v for k, v in r.items() if k.startswith('max_abs_diff_d'))
        out.append(f"{r['kind']:10}{r['B']:>3}{r['W']:>6} {1e3 * r['copy_s']:>8.3f}{r['copy_GBps']:>10.0f} | "
                   f"{1e3 * r['old_fwd_s']:>8.3f}{1e3 * r['fused_fwd_s']:>8.3f}{r['ratio_fwd']:>6.2f} | "
                   f"{1e3 * r['old_fwdbwd_s']:>8.3f}{1e3 * r['fused_fwdbwd_s']:>8.3f}{r['ratio_fwdbwd']:>6.2f} | "
                   f"{r['fused_fwd_GBps']:>8.0f},{r['fused_fwdbwd_GBps']:>8.0f} | {r['spike_agreement']:>9.5f}{dg:>11.1e}")
    return '\n'.join(out)

@call_parse
def main(device:str='auto',      # auto (cuda if available), cuda, cpu (needs TRITON_INTERPRET=1)
         batches:str='2,8',      # batch sizes B
         T:int=8192,             # frames (512 tokens x 16)
         d_model:int=768,        # D
         n_groups:int=8,         # N: selective W = D*N
         d_ff:int=4608,          # FFN width: PLIFNode W = 2*d_ff
         reps:int=10,            # timed repetitions (median)
         small:bool=False,       # tiny shapes (T=37, D=8, N=2, d_ff=12, B=2,3): a smoke test, e.g. on a CPU
         chunks:str='',          # also sweep the fused kernels' chunk length (e.g. 2,4,8,16): `FusedTuning.chunk`
         segs:str='',            # also sweep the backward's segment length (e.g. 0,64,256,1024; 0: one walk): `FusedTuning.seg`
         deep:str='',            # also sweep the forward's prefetch depth: 0 (one chunk ahead), 1 (two): `FusedTuning.deep`
         kinds:str='selective,node',  # which kernels: selective, node, and (the FFN's gate/up scan + spike AND: node kernel then spike_and vs the AND kernel)
         out:str='',             # JSON path for the rows
        ):
    "Old (PyTorch modulation + plif_triton, full membrane) vs fused PLIF kernels: times, GB/s vs a copy, agreement."
    dev = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if device == 'auto' else device)
    if dev.type != 'cuda' and os.environ.get('TRITON_INTERPRET') != '1':
        raise SystemExit('bench_fused: on a CPU the kernels run in Triton\'s interpreter: set TRITON_INTERPRET=1')
    if small: T, d_model, n_groups, d_ff, batches, reps = 37, 8, 2, 12, '2,3', min(reps, 2)
    bs = [int(b) for b in batches.split(',') if b.strip()]
    env = dict(device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu (Triton interpreter)', torch=torch.__version__,
               date=time.strftime('%Y-%m-%d %H:%M:%S'))
    print(' | '.join(f'{k} {v}' for k, v in env.items()), flush=True)
    rows = []
    kinds = [k for k in (('selective', d_model * n_groups), ('node', 2 * d_ff), ('and', 2 * d_ff)) if k[0] in kinds.split(',')]
    for kind, W in kinds:
        for B in bs:
            rows.append(bench_case(kind, T, B, W, d_model, dev, reps))
            print(f"{kind} B={B} W={W}: old {1e3 * rows[-1]['old_fwdbwd_s']:.3f} ms, fused {1e3 * rows[-1]['fused_fwdbwd_s']:.3f} ms fwd+bwd", flush=True)
    sweep = []
    if chunks or segs or deep:
        print('chunk length, backward segment and prefetch depth (FusedTuning) sweep of the fused kernels:')
        lst = lambda a: [int(c) for c in a.split(',')] if a else [None]
        for kind, W in kinds:
            for B in bs: sweep += chunk_sweep(kind, T, B, W, d_model, dev, reps, lst(chunks), lst(segs), [bool(x) for x in lst(deep)] if deep else [None])
    print('\n' + fmt(rows))
    print('x = old / fused time; GB/s = minimal bytes (read r or x, write spikes; backward: read r and d_s, write d_r) / time')
    for kind in ('selective', 'node'):
        rs = [r for r in sweep if r['kind'] == kind]
        if rs:
            keys = dict.fromkeys((r['chunk'], r['seg']) for r in rs)
            tot = {k: sum(r['fwdbwd_s'] for r in rs if (r['chunk'], r['seg']) == k) for k in keys}
            best = min(tot, key=tot.get)
            print(f"best (chunk, segment) for {kind} (fwd+bwd summed over batches): {best} | " +
                  ', '.join(f'{c}: {1e3 * t:.2f} ms' for c, t in tot.items()))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(dict(env=env, T=T, rows=rows, chunk_sweep=sweep), indent=1))
        print(f'wrote {out}')
