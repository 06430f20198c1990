"""Where a training step's GPU time goes: one profiled step of a preset, its kernels grouped by kind.

    python bench/profile_step.py                                  # v75, batch 8, checkpointing on (bench_train's best that fits 60 GB)
    python bench/profile_step.py --batch 4 --ckpt off --top 40
    python bench/profile_step.py --device cpu --preset tiny --batch 2 --seq 32   # CPU smoke test (CPU op times instead)
    python bench/profile_step.py --decode compiled --batch 1 --seq 128            # a decode step instead (issue 24's goal 2)
    python bench/profile_step.py --decode eager --quantize bf16 --batch 1 --seq 128   # the same with the matrices stored in bf16

The step is chapter 7's `train_step`, as bench_train times it (`timed_steps`: bf16 autocast, fused AdamW, clipping, synthetic ids); `--warmup` steps run first
(Triton compiles, the caching allocator settles), then one step under `torch.profiler`. The table sums the device time of
every kernel by kind (matrix products, the PLIF scan kernels forward/backward, elementwise, reductions, ...) as a share
of all kernel time, then lists the `--top` kernels. Kernel time can exceed the step's wall time only if kernels overlap
(they do not here: one stream). `--out` writes the same as JSON.

`--decode eager|compiled` profiles `--steps` decode steps of chapter 9's `StaticDecoder` instead (batch `--batch`, from
the state after a `--seq`-token prompt, bf16 autocast on a GPU; `compiled`: each layer's step through `torch.compile`),
run without its CUDA graph so that every kernel shows, and prints the kernel time per step next to the time of the
same step replayed as a CUDA graph: what the graph's step spends outside its kernels is their difference. `--quantize
bf16` stores the matrices in bf16 first (chapter 6c's `bf16_matrices`, what `ns-sample --quantize bf16` loads: no casts
per step), and then runs bf16 autocast on the CPU too.
"""
from __future__ import annotations
import json, re, statistics, sys, time
from pathlib import Path
import torch
from fastcore.script import call_parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# (kind, regular expression on the kernel name); the first match wins
KINDS = [('scan fwd (fused)', r'fused_fwd_kernel|and_fwd_kernel'), ('scan bwd (fused)', r'fused_bwd_kernel|and_bwd_kernel|seg_carry'),
         ('scan fwd (plif_triton)', r'plif_fwd'), ('scan bwd (plif_triton)', r'plif_bwd'),
         ('matmul', r'gemm|cutlass|xmma|nvjet|sm90_|sm80_|cublas|matmul|_mm_'),
         ('optimizer', r'adam|multi_tensor|foreach'), ('norm', r'norm'), ('softmax / loss', r'softmax|cross_entropy|nll|log_softmax'),
         ('copy / cast', r'copy|memcpy|Memcpy|memset|Memset|cast|to_copy'), ('reduction', r'reduce|sum|mean|amax|max_'),
         ('elementwise', r'elementwise|vectorized|unrolled|pointwise|triton_'), ('other', r'.')]

def trace_events(prof) -> list:
    "The profiler's trace events (chrome trace format)."
    import tempfile, os
    fd, path = tempfile.mkstemp(suffix='.json'); os.close(fd)
    try:
        prof.export_chrome_trace(path)
        return json.load(open(path)).get('traceEvents', [])
    finally: os.unlink(path)

def gpu_gaps(events:list, top:int=15) -> dict:
    """Where the GPU waits: idle time between consecutive kernels/copies of the step, the biggest gaps, and for each the
    CPU ops that ran inside it (the CPU was late to launch the next kernel) and the kernel that followed."""
    gpu = sorted((e for e in events if e.get('cat') in ('kernel', 'gpu_memcpy', 'gpu_memset') and 'dur' in e), key=lambda e: e['ts'])
    if not gpu: return {}
    ops = [e for e in events if e.get('cat') == 'cpu_op' and 'dur' in e]
    gaps, end = [], gpu[0]['ts'] + gpu[0]['dur']
    for e in gpu[1:]:
        if e['ts'] > end: gaps.append((e['ts'] - end, end, e['name']))
        end = max(end, e['ts'] + e['dur'])
    span = end - gpu[0]['ts']
    rows = []
    for g, t0, nxt in sorted(gaps, reverse=True)[:top]:
        inside = sorted((o for o in ops if o['ts'] >= t0 and o['ts'] + o['dur'] <= t0 + g), key=lambda o: -o['dur'])
        rows.append(dict(us=g, next=nxt[:60], cpu=[f"{o['name'][:40]} {o['dur']:.0f}us" for o in inside[:3]]))
    hist = {f'>{lo}us': sum(g for g, *_ in gaps if g > lo) / 1e3 for lo in (10, 100, 1000)}
    return dict(span_ms=span / 1e3, idle_ms=sum(g for g, *_ in gaps) / 1e3, n_gaps=len(gaps), idle_ms_in_gaps=hist, top=rows)

def scan_grids(events:list) -> list:
    "The scan kernels' time grouped by (name, launch grid), from the profiler's trace: [((name, grid), (calls, us))], longest first."
    g = {}
    for e in events:
        if e.get('cat') != 'kernel' or not re.search(r'fused_|plif_|and_fwd|and_bwd|seg_carry', e.get('name', '')): continue
        k = (e['name'], tuple(e.get('args', {}).get('grid', ())))
        n, us = g.get(k, (0, 0.0)); g[k] = (n + 1, us + float(e.get('dur', 0)))
    return sorted(g.items(), key=lambda kv: -kv[1][1])

def decode_steps(model, dev, compiled:bool, batch:int, context:int, warmup:int, steps:int, bf16:bool=False):
    """`run()`: `steps` decode steps of a `StaticDecoder` without its graph (every kernel visible to the profiler), after
    `warmup` (compilation); `run.graph_ms()`: on CUDA, the median time of the same step replayed as a CUDA graph."""
    from neuronspark.model import prefill
    from neuronspark.sample import StaticDecoder
    from neuronspark.runs import autocast
    amp = torch.bfloat16 if dev.type == 'cuda' or bf16 else None
    ids = torch.randint(5, model.config.vocab_size, (batch, context + 1), generator=torch.Generator().manual_seed(0)).to(dev)
    with torch.no_grad(), autocast(dev, 'bf16' if amp else 'fp32'): _, c = prefill(model, ids[:, :context])
    tok = ids[:, context]
    sd = StaticDecoder(model, c, graph=False, autocast=amp, compile=compiled)
    for _ in range(warmup): sd.step(tok, check=False)
    def run():
        for _ in range(steps): sd.step(tok, check=False)
    def graph_ms():
        from bench_sample import timer                     # CUDA events around each call
        g = StaticDecoder(model, c, autocast=amp, compile=compiled)
        for _ in range(warmup): g.step(tok, check=False)
        return statistics.median(timer(dev)(lambda: g.step(tok, check=False), steps))
    run.graph_ms = graph_ms
    return run

def kind_of(name:str) -> str:
    return next(k for k, rx in KINDS if re.search(rx, name, re.I))

@call_parse
def main(preset:str='v75',       # SNN preset
         batch:int=8,            # rows per step
         seq:int=512,            # tokens per row
         ckpt:str='on',          # activation checkpointing: on, off, a number N of layers (the first N), proj or N+proj (bench_train)
         warmup:int=3,           # unprofiled steps first
         top:int=25,             # kernels listed one by one
         device:str='auto',      # cuda / cpu
         out:str=None,           # JSON with the table
         decode:str='none',      # none: a training step; eager or compiled: decode steps of StaticDecoder (its layers compiled or not)
         steps:int=20,           # with --decode: steps profiled (and graph replays timed)
         quantize:str='none',    # with --decode: none, or bf16 (the matrices stored in bf16: no fp32-to-bf16 casts per step)
        ):
    "Profile one training step (or `--steps` decode steps) and print its kernel time by kind."
    from bench_train import bench_model, set_checkpointing, step_config, markov_tokens, timed_steps, _onoff
    from neuronspark.train import make_optimizer
    from torch.profiler import profile, ProfilerActivity
    from neuronspark.runs import resolve_device
    if decode not in ('none', 'eager', 'compiled'): raise SystemExit(f'--decode must be none, eager or compiled, got {decode!r}')
    if quantize not in ('none', 'bf16') or (quantize == 'bf16' and decode == 'none'):
        raise SystemExit(f'--quantize must be none, or bf16 with --decode, got {quantize!r}')
    dev = resolve_device(device)
    cuda = dev.type == 'cuda'
    model = bench_model('snn', preset, seq, device=dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    graph_ms = None                                       # --decode on CUDA: the graphed step, timed after the profile
    if decode == 'none':
        set_checkpointing(model, _onoff(ckpt)[0])
        cfg = step_config('fused' if cuda else 'foreach')
        opt = make_optimizer(model, cfg)
        ids = markov_tokens(model.config.vocab_size, warmup + 1, batch, seq).to(dev)
        timed_steps(model, model, opt, ids[:warmup], cfg)
        run, per = (lambda: timed_steps(model, model, opt, ids[warmup:], cfg)), 1
    else:
        if quantize == 'bf16':
            from neuronspark.runs import quantize_weights
            model = quantize_weights(model, 'bf16')
        run, per = decode_steps(model.eval(), dev, decode == 'compiled', batch, seq, warmup, steps, bf16=quantize == 'bf16'), steps
    if cuda: torch.cuda.synchronize()
    t0 = time.perf_counter()
    with profile(activities=acts) as prof:
        run()
        if cuda: torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / per
    if decode != 'none' and cuda: graph_ms = run.graph_ms()
    kern = {}
    for e in prof.events():
        if cuda and e.device_type != torch.autograd.DeviceType.CUDA: continue
        if getattr(e, 'is_user_annotation', False) or e.name.startswith('Optimizer.'): continue   # annotations on the GPU timeline, not kernels
        if not cuda and (e.cpu_children or e.name.startswith('Profiler')): continue   # CPU: leaf ops only
        t = e.device_time if cuda else e.cpu_time
        n, s = kern.get(e.name, (0, 0.0))
        kern[e.name] = (n + 1, s + t)
    kern = {name: (n / per, t / per) for name, (n, t) in kern.items()}   # per step
    total = sum(s for _, s in kern.values())
    by = {}
    for name, (n, s) in kern.items():
        k = kind_of(name); c, t = by.get(k, (0, 0.0)); by[k] = (c + n, t + s)
    if decode == 'none':
        head = f'{torch.cuda.get_device_name(dev) if cuda else "CPU"} | preset {preset} | batch {batch} x {seq} tokens | ' \
               f'checkpointing {ckpt} | one step: wall {wall:.3f} s (profiled), kernel time {total / 1e6:.3f} s'
    else:
        head = f'{torch.cuda.get_device_name(dev) if cuda else "CPU"} | preset {preset} | decode, {decode} layers, ' \
               f'{"bf16 matrices" if quantize == "bf16" else "fp32 weights"}, batch {batch}, ' \
               f'context {seq} | per step, over {steps}: kernel time {total / 1e3:.3f} ms, wall {wall * 1e3:.3f} ms (eager, profiled)' + \
               (f'; replayed as a CUDA graph {graph_ms:.3f} ms' if graph_ms is not None else '')
    print(head)
    print(f'{"kind":26s} {"calls":>7s} {"ms":>9s} {"share":>7s}')
    for k, (n, s) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f'{k:26s} {n:7g} {s / 1e3:9.3f} {100 * s / total:6.1f}%')
    print(f'\ntop {top} kernels:')
    rows = sorted(kern.items(), key=lambda kv: -kv[1][1])
    for name, (n, s) in rows[:top]:
        print(f'{s / 1e3:9.3f} ms {100 * s / total:5.1f}% {n:6g}x  [{kind_of(name)}] {name[:110]}')
    events = trace_events(prof) if cuda else []
    grids, gaps = scan_grids(events), gpu_gaps(events)
    if gaps:
        print(f"\nGPU timeline of the step: {gaps['span_ms']:.1f} ms, idle {gaps['idle_ms']:.1f} ms in {gaps['n_gaps']} gaps "
              f"(in gaps longer than 10/100/1000 us: {', '.join(f'{v:.1f}' for v in gaps['idle_ms_in_gaps'].values())} ms); "
              f"allocator retries {torch.cuda.memory_stats(dev).get('num_alloc_retries', 0)}. Largest gaps:")
        for r in gaps['top']: print(f"{r['us']:9.0f} us  before {r['next']:60s} cpu: {'; '.join(r['cpu'])}")
    if grids:
        print('\nscan kernels by launch grid (programs over neuron blocks x row blocks x segments; tells the populations apart):')
        for (name, grid), (n, us) in grids:
            print(f'{us / 1e3:9.2f} ms {n:6d}x {us / n:9.1f} us/call  {name:18s} grid {grid}')
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        json.dump(dict(header=head, wall_s=wall, kernel_s=total / 1e6, graph_ms=graph_ms, kinds={k: dict(calls=n, ms=s / 1e3) for k, (n, s) in by.items()},
                       kernels=[dict(name=nm, calls=n, ms=s / 1e3) for nm, (n, s) in rows[:200]],
                       gaps=gaps, scan_grids=[dict(name=nm, grid=list(g), calls=n, ms=us / 1e3) for (nm, g), (n, us) in grids]), open(out, 'w'), indent=1)
        print('wrote', out)
