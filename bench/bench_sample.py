"""Generation speed: NeuronSpark's constant-size recurrent state against a Llama's KV cache and against full recomputation.

Usage: python bench/bench_sample.py --out bench/results/sample_h200.json          (GPU, v75: about 2.5 minutes on an H200)
       python bench/bench_sample.py --device cpu --smoke --out /tmp/sample_smoke.json   (CPU smoke test, tiny sizes)

Random weights and synthetic ids (speed does not depend on the weights: nothing here skips work on silent neurons).
For each context length n and batch size b it measures, with CUDA events after warm-up, the median time of one
decode step (one new token per row), and tokens/s = b / step time, for
- the SNN (`--preset`, default v75): `decode_step` from the state left by a real prefill of n tokens. For batch b > 1
  the batch-1 state is repeated b times: the state has the same shape and the same cost whatever its values;
- the same step recorded once as a CUDA graph and replayed (`StaticDecoder`, chapter 9: one launch per token instead
  of hundreds), after checking its first step's logits against the eager step's;
- a Hugging Face `LlamaForCausalLM` with the same parameter count (`llama_like`, chapter 7), bf16, SDPA attention,
  using its default `DynamicCache`, prefilled with n tokens (batch b prefilled at once when it fits, else batch 1
  repeated b times), so each step attends over n cached tokens;
- naive recomputation of the SNN: one full forward pass over the n-token context per new token (what a model with
  no usable state would do), where it fits the time budget.
Time-to-first-token (prefill of n tokens + the first token's logits) is measured for both models at batch 1. The SNN
prefills long prompts in chunks of `--chunk` tokens (exact: the state carries between chunks), which bounds memory.
Everything runs under bf16 autocast on CUDA (fp32 on CPU). Prints a table and the ratios, writes JSON.
"""
import argparse, json, math, statistics, sys, time
from pathlib import Path
import torch

def timer(dev):
    "A function `measure(fn, n)` -> list of milliseconds of `n` calls of `fn`, CUDA events on a GPU."
    if dev.type == 'cuda':
        def measure(fn, n):
            out = []
            for _ in range(n):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record(); fn(); b.record(); torch.cuda.synchronize(dev)
                out.append(a.elapsed_time(b))
            return out
    else:
        def measure(fn, n):
            out = []
            for _ in range(n):
                t = time.perf_counter(); fn(); out.append(1e3 * (time.perf_counter() - t))
            return out
    return measure

def is_oom(e): return isinstance(e, torch.OutOfMemoryError) or 'out of memory' in str(e).lower()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='v75', help='SNN preset: tiny, small or v75 (the Llama is matched to it)')
    ap.add_argument('--contexts', default='128,512,2048,8192,16384', help='context lengths, comma-separated')
    ap.add_argument('--batches', default='1,32', help='batch sizes for decode, comma-separated')
    ap.add_argument('--steps', type=int, default=30, help='timed decode steps per point (median reported)')
    ap.add_argument('--warmup', type=int, default=5, help='untimed decode steps per point')
    ap.add_argument('--chunk', type=int, default=2048, help='SNN prefill chunk, tokens')
    ap.add_argument('--recompute_max', type=int, default=2048, help='longest context for full recomputation')
    ap.add_argument('--recompute_reps', type=int, default=3, help='timed full forwards per recompute point')
    ap.add_argument('--budget', type=float, default=330, help='seconds; later optional points are skipped past it')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--smoke', action='store_true', help='tiny preset, contexts 16,64, batches 1,2, few steps (CPU check)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    a = ap.parse_args()
    if a.smoke: a.preset, a.contexts, a.batches, a.steps, a.warmup, a.chunk, a.recompute_max, a.recompute_reps = 'tiny', '16,64', '1,2', 3, 1, 32, 64, 1
    t_start = time.time()
    import transformers
    from transformers import LlamaForCausalLM
    from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM
    from neuronspark.train import llama_like, count_params
    from neuronspark.model import CACHE_NAME, output_cache   # the Llama's cache goes in and out under transformers' name for it
    from neuronspark.model import prefill, decode_step
    from neuronspark.sample import state_floats, kv_cache_floats, StaticDecoder
    dev = torch.device(a.device)
    cuda = dev.type == 'cuda'
    measure = timer(dev)
    from neuronspark.runs import autocast
    ac = lambda: autocast(dev)                             # bf16 on CUDA, fp32 on the CPU
    contexts, batches = [int(x) for x in a.contexts.split(',')], [int(x) for x in a.batches.split(',')]
    info = dict(device=torch.cuda.get_device_name(dev) if cuda else 'cpu', torch=torch.__version__, transformers=transformers.__version__,
                command=' '.join(['bench/bench_sample.py'] + sys.argv[1:]), date=time.strftime('%Y-%m-%d %H:%M'), preset=a.preset,
                precision='bf16 autocast' if cuda else 'fp32', steps=a.steps, warmup=a.warmup, chunk=a.chunk)
    if cuda:
        import triton; info['triton'] = triton.__version__
    print(' | '.join(f'{k} {v}' for k, v in info.items()), flush=True)

    torch.manual_seed(0)
    cfg = NeuronSparkConfig.from_preset(a.preset)
    snn = NeuronSparkForCausalLM(cfg).to(dev).eval()
    lcfg = llama_like(count_params(snn), cfg.vocab_size, cfg.num_hidden_layers, max_positions=max(contexts) + 64)
    lcfg._attn_implementation = 'sdpa'
    llama = LlamaForCausalLM(lcfg).to(dev, dtype=torch.bfloat16 if cuda else torch.float32).eval()
    info.update(snn_params=count_params(snn), llama_params=count_params(llama), llama_layers=lcfg.num_hidden_layers,
                llama_hidden=lcfg.hidden_size, snn_state_bytes=4 * state_floats(cfg), llama_kv_bytes_per_token=(2 if cuda else 4) * kv_cache_floats(lcfg, 1))
    print(f"SNN {a.preset}: {info['snn_params']:,} parameters, state {info['snn_state_bytes']/2**20:.2f} MiB per sequence | "
          f"Llama: {info['llama_params']:,} parameters (L={lcfg.num_hidden_layers}, d={lcfg.hidden_size}), "
          f"KV cache {info['llama_kv_bytes_per_token']/2**10:.1f} KiB per token", flush=True)
    g = torch.Generator().manual_seed(0)
    ids_all = torch.randint(5, cfg.vocab_size, (1, max(contexts) + 1), generator=g).to(dev)
    decode, ttft = [], []

    def rec(kind, model, ctx, b, ms, status='ok', note=''):
        r = dict(model=model, context=ctx, batch=b, status=status)
        if ms is not None: r.update(ms=statistics.median(ms), ms_all=[round(x, 4) for x in ms], tokens_per_s=b * 1e3 / statistics.median(ms))
        if note: r['note'] = note
        (ttft if kind == 'ttft' else decode).append(r)
        txt = f"{r['ms']:9.3f} ms" + (f"  {r['tokens_per_s']:10.1f} tok/s" if kind == 'decode' else '') if ms is not None else status
        print(f'{kind:>6} {model:<14} ctx {ctx:>6} batch {b:>3}: {txt} {note}', flush=True)

    # warm-up: compile the kernels for every shape kind (prefill chunk, one-token step) before anything is timed
    with torch.no_grad(), ac():
        _, c = prefill(snn, ids_all[:, :min(64, contexts[0])])
        for _ in range(3): _, c = decode_step(snn, ids_all[:, 0], c)
        llama(ids_all[:, :64])
    if cuda: torch.cuda.synchronize(dev)
    print(f'warm-up done after {time.time() - t_start:.0f} s', flush=True)

    for n in contexts:
        ids = ids_all[:, :n]
        # --- SNN: time to first token, then decode from that state
        state = {}
        def snn_prefill():
            with torch.no_grad(), ac(): state['lg'], state['c'] = prefill(snn, ids, chunk_size=a.chunk)
        reps = 3 if n <= 2048 else 1
        rec('ttft', 'snn', n, 1, measure(snn_prefill, reps))
        for b in batches:
            c = state['c']
            if b > 1: c = type(c)([tuple(v.repeat_interleave(b, 0) for v in s) for s in c.states], c.seen_tokens)
            tok = ids_all[0, n].repeat(b)
            box = {'c': c}
            def step():
                with torch.no_grad(), ac(): _, box['c'] = decode_step(snn, tok, box['c'])
            measure(step, a.warmup)
            rec('decode', 'snn', n, b, measure(step, a.steps))
            # the same step recorded as a CUDA graph (StaticDecoder; eager on fixed buffers without CUDA), checked first
            # against the eager step from the same state
            try:
                sd = StaticDecoder(snn, c, autocast=torch.bfloat16 if cuda else None)
                with torch.no_grad(), ac(): want, _ = decode_step(snn, tok, c)
                got = sd.step(tok).float()
                diff = (got - want.float()).abs().max().item() / want.float().abs().max().item()
                gstep = lambda: sd.step(tok, check=False)
                measure(gstep, a.warmup)
                rec('decode', 'snn_graph', n, b, measure(gstep, a.steps),
                    note=f"({'CUDA graph' if sd.graph else 'eager, fixed buffers'}; first-step logits vs eager: max rel. diff {diff:.1e})")
                decode[-1]['max_rel_diff'] = diff
            except Exception as e:
                if is_oom(e): raise
                rec('decode', 'snn_graph', n, b, None, status='failed', note=f'{type(e).__name__}: {e}'[:300])
            sd = None
            del box, c
        del state
        # --- Llama with its KV cache
        for b in [1] + [x for x in batches if x != 1]:
            try:
                box = {}
                def ll_prefill(bb=b):
                    with torch.no_grad():
                        out = llama(ids.expand(bb, n), use_cache=True, logits_to_keep=1)
                    box['c'] = output_cache(out)
                if b == 1: rec('ttft', 'llama', n, 1, measure(ll_prefill, 3 if n <= 2048 else 1))
                else:
                    try: ll_prefill()
                    except RuntimeError as e:
                        if not is_oom(e): raise
                        box.clear(); torch.cuda.empty_cache() if cuda else None
                        ll_prefill(1); box['c'].batch_repeat_interleave(b)
                if b == 1 and 'c' not in box: ll_prefill()
                tok = ids_all[:, n].expand(b, 1).contiguous()
                def step():
                    with torch.no_grad(): box['out'] = llama(tok, use_cache=True, **{CACHE_NAME: box['c']})
                measure(step, a.warmup)
                rec('decode', 'llama', n, b, measure(step, a.steps), note='(cache grows by the timed steps)')
            except RuntimeError as e:
                if not is_oom(e): raise
                rec('decode', 'llama', n, b, None, status='oom', note=f'KV cache alone {b * n * info["llama_kv_bytes_per_token"] / 2**30:.1f} GiB')
            box = None
            if cuda: torch.cuda.empty_cache()
        # --- naive recomputation: a full forward of the n-token context per new token
        for b in batches:
            if n > a.recompute_max or (b > 1 and n > a.recompute_max // 4):
                rec('decode', 'snn_recompute', n, b, None, status='skipped', note=f'(only up to {a.recompute_max} tokens at batch 1, {a.recompute_max // 4} at batch > 1)'); continue
            if time.time() - t_start > a.budget:
                rec('decode', 'snn_recompute', n, b, None, status='skipped', note='(time budget)'); continue
            x = ids.expand(b, n).contiguous()
            def full():
                with torch.no_grad(), ac(): prefill(snn, x, chunk_size=a.chunk)
            try: rec('decode', 'snn_recompute', n, b, measure(full, a.recompute_reps))
            except RuntimeError as e:
                if not is_oom(e): raise
                rec('decode', 'snn_recompute', n, b, None, status='oom')
            if cuda: torch.cuda.empty_cache()
        print(f'context {n} done after {time.time() - t_start:.0f} s', flush=True)

    # --- summary
    get = lambda m, n, b: next((r.get('ms') for r in decode if r['model'] == m and r['context'] == n and r['batch'] == b), None)
    summary = {}
    for b in batches:
        for m in ('snn', 'snn_graph'):
            ms = [get(m, n, b) for n in contexts]
            if all(ms): summary[f'{m}_latency_spread_b{b}'] = max(ms) / min(ms) - 1
        for n in contexts:
            l, s, g, r = get('llama', n, b), get('snn', n, b), get('snn_graph', n, b), get('snn_recompute', n, b)
            if l: summary[f'llama_over_snn_b{b}_ctx{n}'] = l / s
            if r: summary[f'recompute_over_snn_b{b}_ctx{n}'] = r / s
            if g: summary[f'snn_over_graph_b{b}_ctx{n}'] = s / g
            if g and l: summary[f'llama_over_graph_b{b}_ctx{n}'] = l / g
            if g and r: summary[f'recompute_over_graph_b{b}_ctx{n}'] = r / g
    print('\nper-token decode latency (ms, median) | tokens/s')
    print(f"{'context':>8} {'batch':>5} | {'SNN':>9} {'SNN graph':>9} {'Llama KV':>9} {'recompute':>10} | {'graph tok/s':>11} {'Llama tok/s':>11} | "
          f"SNN/graph  Llama/graph  recompute/graph")
    nan = float('nan')
    for b in batches:
        for n in contexts:
            s, g, l, r = get('snn', n, b), get('snn_graph', n, b), get('llama', n, b), get('snn_recompute', n, b)
            f = lambda v: f'{v:9.2f}' if v else f"{'-':>9}"
            best = g or s
            print(f"{n:>8} {b:>5} | {f(s)} {f(g)} {f(l)} {f(r):>10} | {b * 1e3 / best:11.1f} {(b * 1e3 / l) if l else nan:11.1f} | "
                  f"{(s / g) if g else nan:9.2f}  {(l / best) if l else nan:11.2f}  {(r / best) if r else nan:15.1f}")
    print('\ntime to first token (batch 1, ms):', ', '.join(f"{r['model']} {r['context']}: {r['ms']:.1f}" for r in ttft))
    for k, v in summary.items(): print(f'{k}: {v:.3f}')
    info['seconds'] = time.time() - t_start
    print(f"total {info['seconds']:.0f} s")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        json.dump(dict(info=info, contexts=contexts, batches=batches, decode=decode, ttft=ttft, summary=summary), open(a.out, 'w'), indent=1)
        print(f'wrote {a.out}')

if __name__ == '__main__': main()
