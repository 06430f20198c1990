"""Benchmark the fused Triton PLIF kernels (chapter 4) on a CUDA GPU and write the numbers to a JSON file.

In one run on one GPU: a device-to-device copy (the bandwidth ceiling); the per-element and row-parameter kernels,
forward and forward+backward, fp32 and bf16, in the normal and the memory-saving mode; the same at the upstream
training shapes; a column sweep (latency- vs bandwidth-bound); baselines (the one-step-per-iteration kernel,
chapter 3's `plif_scan`, a `torch.compile`d step in a Python loop); spikingjelly 2.0's `ParametricLIFNode`
(multi-step, each CUDA implementation it has, in a subprocess because it reads SJ_PLIF_CUDA_IMPLEMENTATION at
import); optionally a sweep of launch shapes. Prints elements/s, effective GB/s of the minimal traffic (each input
read once, each output written once) and ratios. Chapter 4 draws its tables and figures from the JSON.

    python bench/bench_plif.py --out bench/results/plif_h100.json [--sweep]
"""
import json, os, subprocess, sys, time
from pathlib import Path
import torch
from fastcore.script import call_parse

GB = 1e9
DEV = 'cuda'   # a CPU smoke test of this script (Triton interpreter, tiny sizes) sets 'cpu' and shrinks the sizes below
COLUMNS = (1536, 4096, 12288, 32768, 65536)                     # the column sweep
UPSTREAM = (8176, [((2, 6144), 'per-element'), ((2, 768), 'row'), ((2, 4608), 'row'), ((2, 6144), 'row')])
QUICK = (1003, 2, 777)                                          # shape of the float64 check that runs first
NARROW = (8176, 2, 768)                                         # the sweep's second, latency-bound shape


def timeit(fn, budget_s=0.4, max_reps=50):
    "Median wall time of `fn` in ms, by CUDA events, after a warm-up; fewer repeats for slow functions."
    fn(); torch.cuda.synchronize()
    t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); first = time.perf_counter() - t0
    reps = int(max(2, min(max_reps, budget_s / max(first, 1e-6))))
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth(nbytes=2 << 30):
    "Device-to-device copy of `nbytes`: GB/s counting bytes read plus bytes written."
    src = torch.randn(nbytes // 4, device=DEV); dst = torch.empty_like(src)
    ms = timeit(lambda: dst.copy_(src), max_reps=100)
    del src, dst; torch.cuda.empty_cache()
    return 2 * nbytes / (ms * 1e-3) / GB, ms


def traffic(kernel, mode, e, full_v=True):
    "Minimal bytes per element: forward reads beta, u, theta (per element) or u, writes s (and v); backward reads beta, u, theta, g_s, writes du, dbeta, dtheta."
    fwd = ((3 if kernel == 'per-element' else 1) + (2 if full_v else 1)) * e
    bwd = (7 if kernel == 'per-element' else 3) * e
    return fwd if mode == 'fwd' else fwd + bwd


def make_inputs(T, R, W, kernel, dtype, seed=0):
    "Realistic inputs: decays 0.8-0.99, thresholds 0.05-0.35, drive around the thresholds (rates of a few to 30%)."
    g = torch.Generator(device=DEV).manual_seed(seed)
    pshape = (T, R, W) if kernel == 'per-element' else (W,)
    beta = (0.8 + 0.19 * torch.rand(pshape, device=DEV, generator=g)).to(dtype)
    theta = (0.05 + 0.3 * torch.rand(pshape, device=DEV, generator=g)).to(dtype)
    u = (0.02 + 0.1 * torch.randn(T, R, W, device=DEV, generator=g)).to(dtype)
    gs = torch.randn(T, R, W, device=DEV, generator=g).to(dtype)
    return beta, u, theta, gs


def run_ours(T, R, W, kernel, dtype, full_v=True, cfg=None, modes=('fwd', 'fwd+bwd')):
    "Time `plif_triton` forward and forward+backward (gradient through the spikes only); peak memory of fwd+bwd."
    from neuronspark.kernels.plif import plif_triton
    beta, u, theta, gs = make_inputs(T, R, W, kernel, dtype)
    out = {}
    if 'fwd' in modes:
        with torch.no_grad(): out['fwd'] = timeit(lambda: plif_triton(beta, u, theta, full_v=full_v, cfg=cfg))
    if 'fwd+bwd' in modes:
        b, uu, th = (x.detach().requires_grad_() for x in (beta, u, theta))
        def step():                                  # autograd.grad: no accumulation into .grad, which would add traffic
            s, v = plif_triton(b, uu, th, full_v=full_v, cfg=cfg)
            return torch.autograd.grad(s, (b, uu, th), gs)
        out['fwd+bwd'] = timeit(step)
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
        step(); torch.cuda.synchronize()
        out['peak_MiB'] = (torch.cuda.max_memory_allocated() - base) / 2**20
    del beta, u, theta, gs; torch.cuda.empty_cache()
    return out


def row(name, kernel, dtype, mode, T, C, ms, copy_gbps=None, full_v=True, **kw):
    e = torch.tensor([], dtype=dtype).element_size()
    d = dict(name=name, kernel=kernel, dtype=str(dtype).replace('torch.', ''), mode=mode, T=T, C=C, ms=ms,
             Gelem_s=T * C / (ms * 1e-3) / 1e9, full_v=full_v, **kw)
    if kernel in ('per-element', 'row'):
        d['bytes'] = traffic(kernel, mode, e, full_v) * T * C
        d['GBps'] = d['bytes'] / (ms * 1e-3) / GB
        if copy_gbps: d['frac_copy'] = d['GBps'] / copy_gbps
    return d


def sj_child(impl, T, R, W, out):
    "In a fresh process (SJ_PLIF_CUDA_IMPLEMENTATION is read at import): time spikingjelly's ParametricLIFNode."
    os.environ['SJ_PLIF_CUDA_IMPLEMENTATION'] = impl
    res = []
    try:
        from spikingjelly.activation_based import neuron, surrogate, functional
        import spikingjelly
        for dtype in (torch.float32, torch.bfloat16):
            node = neuron.ParametricLIFNode(init_tau=2.0, decay_input=True, v_threshold=0.5, v_reset=None,
                                            surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=True,
                                            step_mode='m').to(DEV)
            g = torch.Generator(device=DEV).manual_seed(0)
            x = (0.5 + torch.randn(T, R, W, device=DEV, generator=g)).to(dtype)
            gs = torch.randn(T, R, W, device=DEV, generator=g).to(dtype)
            def fwd():
                functional.reset_net(node)
                with torch.no_grad(): node(x)
            xg = x.detach().requires_grad_()
            def fwdbwd():
                functional.reset_net(node)
                return torch.autograd.grad(node(xg), (xg, node.w), gs)
            for mode, fn in (('fwd', fwd), ('fwd+bwd', fwdbwd)):
                try:
                    ms = timeit(fn, budget_s=0.3, max_reps=20)
                    res.append(dict(impl=impl, dtype=str(dtype).replace('torch.', ''), mode=mode, T=T, C=R * W, ms=ms,
                                    Gelem_s=T * R * W / (ms * 1e-3) / 1e9, version=spikingjelly.__version__ if hasattr(spikingjelly, '__version__') else '2.0.0'))
                except Exception as e:
                    res.append(dict(impl=impl, dtype=str(dtype).replace('torch.', ''), mode=mode, error=f'{type(e).__name__}: {e}'[:300]))
            del x, xg, gs, node; torch.cuda.empty_cache()
    except Exception as e:
        res.append(dict(impl=impl, error=f'{type(e).__name__}: {e}'[:300]))
    Path(out).write_text(json.dumps(res))


def compiled_info():
    "Registers, spills and tile layout of every compiled variant of the two kernels."
    from neuronspark.kernels import plif as K
    info = []
    for kern in (K.plif_fwd_kernel, K.plif_bwd_kernel):
        for dev_cache in getattr(kern, 'device_caches', {}).values():   # absent under the interpreter
            for ck in dev_cache[0].values():
                try:
                    const = {(k if isinstance(k, str) else kern.arg_names[k[0]]): v for k, v in getattr(ck.src, 'constants', {}).items()}
                    ttgir = ck.asm.get('ttgir', '')
                    layout = next((l.split('=', 1)[1].strip() for l in ttgir.splitlines() if l.startswith('#blocked =')), '')
                    info.append(dict(kernel=kern.__name__, n_regs=ck.n_regs, n_spills=ck.n_spills, layout=layout,
                                     constexprs={k: v for k, v in const.items() if k.isupper()}, specialised={k: v for k, v in const.items() if not k.isupper()}, num_warps=ck.metadata.num_warps))
                except Exception as e:
                    info.append(dict(kernel=kern.__name__, error=str(e)[:200]))
    return info


def quick_check():
    "Fail fast: the kernels against chapter 3's plif_scan in float64 on one odd shape of each kind."
    from neuronspark.kernels.plif import plif_triton
    from neuronspark.scan import plif_scan
    for per_step in (True, False):
        T, R, W = QUICK
        beta, u, theta, gs = make_inputs(T, R, W, 'per-element' if per_step else 'row', torch.float32, seed=5)
        ins = [x.requires_grad_() for x in (beta, u, theta)]
        s, v = plif_triton(*ins, debug=True); g1 = torch.autograd.grad(s, ins, gs)
        ins64 = [x.detach().double().requires_grad_() for x in ins]
        s2, v2 = plif_scan(*ins64); g2 = torch.autograd.grad(s2, ins64, gs.double())
        ok = (s.double() == s2).all(0)
        rel = [((a.double() - b)[..., ok] if a.shape[-2:] == (R, W) else (a.double() - b)).norm().item() / b.norm().item() for a, b in zip(g1, g2)]
        print(f'quick check per_step={per_step}: identical columns {ok.float().mean().item():.4f}, grad rel err {["%.1e" % r for r in rel]}', flush=True)
        assert ok.float().mean() > 0.99 and max(rel) < 1e-3 and not any(x.isnan().any() for x in (s, v, *g1))


def report(res):
    "Print the summary table."
    print(f"\n{res['device']}  torch {res['torch']}  triton {res['triton']}  copy {res['copy_GBps']:.0f} GB/s   T={res['T']} C={res['C']}")
    print(f"{'kernel':12} {'dtype':9} {'mode':8} {'v':5} {'ms':>8} {'G elem/s':>9} {'GB/s':>7} {'of copy':>8}")
    for r in res['main']:
        print(f"{r['kernel']:12} {r['dtype']:9} {r['mode']:8} {'full' if r['full_v'] else 'last':5} {r['ms']:8.3f} {r['Gelem_s']:9.1f} {r['GBps']:7.0f} {r['frac_copy']:8.0%}")
    for r in res.get('baselines', []):
        if 'ms' in r: print(f"baseline {r['name'][:40]:40} {r['mode']:8} {r['ms']:9.2f} ms {r['Gelem_s']:7.2f} G elem/s")
    for r in res.get('spikingjelly', []):
        if 'ms' in r: print(f"spikingjelly {r['impl']:7} {r['dtype']:9} {r['mode']:8} {r['ms']:9.2f} ms {r['Gelem_s']:7.2f} G elem/s")
        else: print(f"spikingjelly {r.get('impl')} {r.get('dtype', '')} {r.get('mode', '')}: {r.get('error', '')[:120]}")
    for r in res.get('upstream', []):
        print(f"upstream {str(r['shape']):18} {r['kernel']:12} {r['dtype']:9} {r['mode']:8} {r['ms']:8.3f} ms {r['GBps']:6.0f} GB/s")
    sjt = {(r['dtype'], r['mode']): r['Gelem_s'] for r in res.get('spikingjelly', []) if r.get('impl') == 'auto' and 'ms' in r}
    mine = {(r['kernel'], r['dtype'], r['mode']): r for r in res['main'] if r['full_v']}
    print('\ngoals:')
    print(f"  per-element fwd fp32 {mine['per-element', 'float32', 'fwd']['frac_copy']:.0%} of copy (goal 70%),"
          f" fwd+bwd {mine['per-element', 'float32', 'fwd+bwd']['frac_copy']:.0%} (goal 50%)")
    if ('float32', 'fwd+bwd') in sjt:
        print(f"  row fwd+bwd fp32 vs spikingjelly: {mine['row', 'float32', 'fwd+bwd']['Gelem_s'] / sjt['float32', 'fwd+bwd']:.1f}x (goal 2x);"
              f" per-element fwd+bwd vs spikingjelly: {mine['per-element', 'float32', 'fwd+bwd']['Gelem_s'] / sjt['float32', 'fwd+bwd']:.1f}x (goal 1x)")
    print(f"  row fwd+bwd bf16 / fp32 time: {mine['row', 'bfloat16', 'fwd+bwd']['ms'] / mine['row', 'float32', 'fwd+bwd']['ms']:.2f} (goal <= 1.5)")


@call_parse
def main(out:str='bench/results/plif_h100.json',  # where to write the JSON
         T:int=8192,                # time steps of the main runs
         cols:int=32768,            # neuron columns of the main runs (batch 2 x cols/2)
         sweep:bool=False,          # also sweep launch shapes (BR, BW, CH, num_warps)
         sj:bool=True,              # also time spikingjelly (subprocesses)
         sj_impl:str='',            # internal: run only the spikingjelly child for this implementation
         sj_out:str='',             # internal: the child's output file
        ):
    "Benchmark the Triton PLIF kernels against a copy, baselines and spikingjelly; write JSON, print a table."
    R, W = 2, cols // 2
    if sj_impl: return sj_child(sj_impl, T, R, W, sj_out)
    import triton
    from neuronspark.kernels import plif as K
    t_start = time.time()
    def save():                                          # after every phase, so a cut-off run keeps what it measured
        res['wall_s'] = time.time() - t_start
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(res, indent=1))
    res = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, triton=triton.__version__,
               sm=torch.cuda.get_device_properties(0).multi_processor_count, command=' '.join(sys.argv),
               date=time.strftime('%Y-%m-%d %H:%M'), T=T, C=R * W)
    quick_check()
    res['copy_GBps'], res['copy_ms'] = copy_bandwidth()
    print(f"{res['device']}: copy {res['copy_GBps']:.0f} GB/s", flush=True)
    cb = res['copy_GBps']
    main_rows, mem_rows = [], []
    for kernel in ('per-element', 'row'):
        for dtype in (torch.float32, torch.bfloat16):
            for full_v in (True, False):
                o = run_ours(T, R, W, kernel, dtype, full_v=full_v)
                for mode in ('fwd', 'fwd+bwd'):
                    main_rows.append(row('plif_triton', kernel, dtype, mode, T, R * W, o[mode], cb, full_v=full_v))
                mem_rows.append(dict(kernel=kernel, dtype=str(dtype)[6:], full_v=full_v, peak_MiB=o['peak_MiB'],
                                     fwd_ms=o['fwd'], fwdbwd_ms=o['fwd+bwd']))
    res['main'], res['memory'] = main_rows, mem_rows
    save()
    print(f'main runs done ({time.time() - t_start:.0f}s)', flush=True)

    # columns: from latency-bound (few columns) to bandwidth-bound
    col_rows = []
    for C in COLUMNS:
        for kernel in ('per-element', 'row'):
            o = run_ours(T, 2, C // 2, kernel, torch.float32)
            for mode in ('fwd', 'fwd+bwd'): col_rows.append(row('plif_triton', kernel, torch.float32, mode, T, C, o[mode], cb))
    res['columns'] = col_rows

    # upstream training shapes (T = 511 tokens x 16 frames)
    up_rows = []
    Tu = UPSTREAM[0]
    for (Ru, Wu), kernel in UPSTREAM[1]:
        for dtype in (torch.float32, torch.bfloat16):
            o = run_ours(Tu, Ru, Wu, kernel, dtype)
            for mode in ('fwd', 'fwd+bwd'):
                up_rows.append(row('plif_triton', kernel, dtype, mode, Tu, Ru * Wu, o[mode], cb, shape=[Tu, Ru, Wu]))
    res['upstream'] = up_rows
    save()
    print(f'columns and upstream shapes done ({time.time() - t_start:.0f}s)', flush=True)

    # baselines
    base = []
    beta, u, theta, gs = make_inputs(T, R, W, 'per-element', torch.float32)
    s, v = torch.empty_like(u), torch.empty_like(u)
    for blk in (128, 32):
        ms = timeit(lambda: K.plif_fwd_naive_kernel[(triton.cdiv(R * W, blk),)](beta, u, theta, s, v, T, R * W, BLOCK=blk))
        base.append(row(f'one step per iteration, BLOCK={blk}', 'per-element', torch.float32, 'fwd', T, R * W, ms, cb))
    for C in COLUMNS[:3]:                               # few columns: the first T*C elements as a [T, C] tensor
        ms = timeit(lambda: K.plif_fwd_naive_kernel[(triton.cdiv(C, 128),)](beta, u, theta, s, v, T, C, BLOCK=128))
        base.append(row('one step per iteration, BLOCK=128', 'per-element', torch.float32, 'fwd', T, C, ms, cb))
    from neuronspark.scan import plif_scan
    with torch.no_grad(): ms = timeit(lambda: plif_scan(beta, u, theta), budget_s=0.5, max_reps=5)
    base.append(row('plif_scan (chapter 3, compiled loop)', 'per-element', torch.float32, 'fwd', T, R * W, ms, cb))
    bg, ug, thg = (x.detach().requires_grad_() for x in (beta, u, theta))
    def scan_fb():
        s_, _ = plif_scan(bg, ug, thg); return torch.autograd.grad(s_, (bg, ug, thg), gs)
    ms = timeit(scan_fb, budget_s=0.5, max_reps=5)
    base.append(row('plif_scan (chapter 3, compiled loop)', 'per-element', torch.float32, 'fwd+bwd', T, R * W, ms, cb))
    try:
        @torch.compile(fullgraph=True, dynamic=False)
        def step(v_, b_, u_, th_):
            vp = b_ * v_ + u_
            s_ = (vp - th_ >= 0).to(vp.dtype)
            return s_, vp - th_ * s_
        def compiled_loop():
            v_ = torch.zeros_like(u[0]); ss, vs = [], []
            for t in range(T):
                s_, v_ = step(v_, beta[t], u[t], theta[t]); ss.append(s_); vs.append(v_)
            return torch.stack(ss), torch.stack(vs)
        with torch.no_grad(): ms = timeit(compiled_loop, budget_s=0.5, max_reps=5)
        base.append(row('torch.compile step, Python loop over T', 'per-element', torch.float32, 'fwd', T, R * W, ms, cb))
    except Exception as e:
        base.append(dict(name='torch.compile step, Python loop over T', error=str(e)[:300]))
    del beta, u, theta, gs, s, v, bg, ug, thg; torch.cuda.empty_cache()
    res['baselines'] = base
    save()
    print(f'baselines done ({time.time() - t_start:.0f}s)', flush=True)

    if sj:
        sj_rows = []
        for impl in ('auto', 'triton', 'cuda', 'torch'):
            f = Path(f'/tmp/sj_{impl}.json')
            try:
                p = subprocess.run([sys.executable, __file__, '--T', str(T), '--cols', str(cols), '--sj_impl', impl, '--sj_out', str(f)],
                                   capture_output=True, text=True, timeout=150)
                sj_rows += json.loads(f.read_text()) if f.exists() else [dict(impl=impl, error=p.stderr[-300:])]
            except subprocess.TimeoutExpired:
                sj_rows.append(dict(impl=impl, error='timed out after 150 s'))
        res['spikingjelly'] = sj_rows
        save()
        print(f'spikingjelly done ({time.time() - t_start:.0f}s)', flush=True)

    if sweep:                                           # launch shapes (BR, BW, CH, num_warps), fp32, launchers alone
        sw = res['sweep'] = []
        cfgs = {'per-element': [(1, 32, 8, 1), (2, 32, 8, 2), (2, 64, 8, 4), (2, 32, 4, 2), (2, 128, 4, 4)],
                'row': [(1, 32, 16, 1), (2, 32, 16, 2), (2, 64, 16, 4), (2, 32, 8, 2), (2, 64, 8, 4)]}
        for kernel in ('per-element', 'row'):
            for shape in ((T, R, W), NARROW):
                beta, u, theta, gs = make_inputs(*shape, kernel, torch.float32)
                for cfg in cfgs[kernel]:
                    try:
                        f_ms = timeit(lambda: K.plif_fwd(beta, u, theta, write_v=True, cfg=cfg), budget_s=0.15)
                        _, _, ck, views, _ = K.plif_fwd(beta, u, theta, cfg=cfg)
                        b_ms = timeit(lambda: K.plif_bwd(*views, ck, gs, None, None, 4.0, cfg), budget_s=0.15)
                        sw.append(dict(kernel=kernel, dtype='float32', shape=list(shape), cfg=list(cfg), fwd_ms=f_ms, bwd_ms=b_ms))
                    except Exception as e:
                        sw.append(dict(kernel=kernel, dtype='float32', shape=list(shape), cfg=list(cfg), error=str(e)[:200]))
                del beta, u, theta, gs; torch.cuda.empty_cache()
                res['compiled'] = compiled_info(); save()
        print(f'sweep done ({time.time() - t_start:.0f}s)', flush=True)
    res['compiled'] = compiled_info()
    save()
    report(res)
