"""Generation speed: NeuronSpark's constant-size recurrent state against a Llama's KV cache and against full recomputation.

Usage: python bench/bench_sample.py --out bench/results/sample_h200.json --speed_out bench/results/speed_h200.json
           (GPU, v75; the Llama and int8 compilations add a few minutes to the 2.5 of the eager run on an H200)
       python bench/bench_sample.py --device cpu --smoke --out /tmp/sample_smoke.json --speed_out /tmp/speed_smoke.json
           (CPU smoke test, tiny sizes, contexts 16 and 64, long prompt 256 tokens: about 3 minutes on 2 cores, mostly
           torch.compile)
       add --model RUN_FOLDER --val_data out/data/val.jsonl to time a trained model and print its validation loss in
           fp32 and with int8 weights (the loss change int8 costs, next to its speed)

Random weights and synthetic ids (speed does not depend on the weights: nothing here skips work on silent neurons).
For each context length n and batch size b it measures, with CUDA events after warm-up, the median time of one
decode step (one new token per row), and tokens/s = b / step time, for
- the SNN (`--preset`, default v75): `decode_step` from the state left by a real prefill of n tokens. For batch b > 1
  the batch-1 state is repeated b times: the state has the same shape and the same cost whatever its values;
- the same step recorded once as a CUDA graph and replayed (`StaticDecoder`, chapter 9: one launch per token instead
  of hundreds), checked against the same step run eagerly: at batch 1 over `--check_tokens` consecutive tokens, at
  larger batches on the first step's logits;
- a Hugging Face `LlamaForCausalLM` with the same parameter count (`llama_like`, chapter 7), bf16, SDPA attention,
  using its default `DynamicCache`, prefilled with n tokens (batch b prefilled at once when it fits, else batch 1
  repeated b times), so each step attends over n cached tokens;
- the same Llama with transformers' `StaticCache` and its decode step under `torch.compile(mode='reduce-overhead')`
  (Inductor kernels replayed as a CUDA graph; on the CPU the default mode, as CUDA graphs need CUDA), batch 1: the fair
  anchor for the graphed SNN step (`llama_graph`), its first step's logits checked against the eager model's;
- the SNN with each layer's step compiled (`StaticDecoder(..., compile=True)`, chapter 9: the reference operations
  under `torch.compile`, which Inductor fuses into a few kernels per layer), recorded as a CUDA graph (`snn_compiled`),
  batch 1, its logits compared with the eager step's over `--check_tokens` consecutive tokens (the largest difference
  and how often the greedy token differs are recorded), twice: each decoder carrying its own state, where one spike
  flipped at a near-tie changes every later step, and each step started from the eager decoder's state, which
  measures one step alone (a wrong fusion shows there; rounding alone gives fp32-sized differences). Before them, at
  the first context, the yardstick: two exact-by-design eager steps compared the same way, the fast kernels (Triton on
  CUDA) against the reference operations, in fp32 and, on CUDA, in bf16 (`snn_reference_vs_triton_fp32`, `_bf16`):
  a bf16 row whose one-step numbers stay within the bf16 yardstick's differs by rounding, not by a wrong fusion;
- `generate_ids` end to end at the first context, batch 1 (`snn_generate` with `graph=False`, what `ns-sample --eager`
  runs, and `snn_generate_graph` with `graph=True`, what `ns-sample` runs on a GPU): milliseconds per new token over
  `--check_tokens` greedy tokens, the prefill and the graph's recording included, and whether the two give the same
  tokens (`same_tokens`);
- the SNN with its matrices stored in bf16 (chapter 6c's `bf16_matrices`, `--quantize bf16`: no fp32-to-bf16 cast per
  step), batch 1, on CUDA: the graphed step (`snn_bf16w`) and the same with compiled layers (`snn_bf16w_compiled`);
  `bf16w_equal` records whether its eager step gives the fp32-weight eager step's logits bit for bit, as it should;
- the SNN with int8 weights (chapter 6c's `quantize_weights`, torchao weight-only int8), batch 1: the graphed step of
  `StaticDecoder` (`snn_int8`) and the same with compiled layers (`snn_int8_compiled`, where Inductor can also fuse
  the int8-to-bf16 conversion into the matrix products; eager torchao converts the whole weight first);
- naive recomputation of the SNN: one full forward pass over the n-token context per new token (what a model with
  no usable state would do), where it fits the time budget.
Time-to-first-token (prefill of n tokens + the first token's logits) is measured for both models at batch 1, at every
context and once more for a long prompt (`--ttft_long`, 16,384 tokens by default). The SNN prefills long prompts in
chunks of `--chunk` tokens (exact: the state carries between chunks), which bounds memory.
`--speed_out` writes issue 24's summary: ttft_16k_ms, ttft_16k_llama_ms (the long prompt), decode_b1_ms (the graphed SNN step; with
compiled layers decode_b1_compiled_ms, and with bf16 matrices decode_b1_bf16w_ms and decode_b1_bf16w_compiled_ms: a
compiled row is kept apart because it need not give the eager step's tokens), decode_b1_int8_ms (the faster int8 step), decode_llama_graph_ms (compiled Llama), all at batch 1 and the longest
context; ttft_16k_pipelined_ms (chapter 9's prefill_pipelined, the layers as a pipeline over chunks, at its best chunk
size of `--pipe_chunks`, each timed next to prefill with the same chunks and checked against it); mfu_b8 and
peak_gib_b8 come from bench/bench_train.py and are left null here.
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
    ap.add_argument('--ttft_long', type=int, default=16384, help='tokens of the long-prompt time to first token, batch 1 (0: skip)')
    ap.add_argument('--no_llama_graph', action='store_true', help='skip the Llama with static cache + torch.compile')
    ap.add_argument('--no_int8', action='store_true', help='skip the SNN with int8 weights')
    ap.add_argument('--pipe_chunks', default='512,1024,2048', help="chunk sizes (tokens) for the pipelined prefill of the long prompt, comma-separated ('' skips it)")
    ap.add_argument('--no_compiled', action='store_true', help='skip the compiled-layer rows of the SNN step (snn_compiled, snn_int8_compiled)')
    ap.add_argument('--check_tokens', type=int, default=64, help='consecutive tokens over which the compiled and int8 steps are compared with their eager step')
    ap.add_argument('--model', default=None, help='a trained SNN (run folder, final/ or checkpoint) instead of random weights')
    ap.add_argument('--val_data', default=None, help='with --model: a val.jsonl; prints its loss in fp32 and with int8 weights')
    ap.add_argument('--val_batches', type=int, default=8, help='batches of 8 x 512 tokens for --val_data')
    ap.add_argument('--smoke', action='store_true', help='tiny preset, contexts 16,64, batches 1,2, long prompt 256, few steps (CPU check)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    ap.add_argument('--speed_out', default=None, help="write issue 24's summary JSON here (e.g. bench/results/speed_h200.json)")
    a = ap.parse_args()
    if a.val_data and not a.model: ap.error('--val_data needs --model (the trained model whose loss int8 changes)')
    if a.smoke: a.preset, a.contexts, a.batches, a.steps, a.warmup, a.chunk, a.recompute_max, a.recompute_reps, a.ttft_long = 'tiny', '16,64', '1,2', 3, 1, 32, 64, 1, 256
    t_start = time.time()
    import copy
    from neuronspark.runs import quantize_weights, load_run   # first: it quiets torchao's import notes, which transformers triggers
    import transformers
    from transformers import StaticCache
    from transformers import LlamaForCausalLM
    from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM
    from neuronspark.train import llama_like, count_params
    from neuronspark.model import CACHE_NAME, output_cache   # the Llama's cache goes in and out under transformers' name for it
    from neuronspark.model import prefill, decode_step
    from neuronspark.plif import use_impl
    from neuronspark.sample import state_floats, kv_cache_floats, StaticDecoder, prefill_pipelined, _copy_states_, generate_ids
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
    if a.model:                                            # a trained model: its own config and weights
        snn, tok_ = load_run(a.model, device=str(dev)); cfg = snn.config; info['model'] = a.model
    longest = max(contexts + [a.ttft_long])
    lcfg = llama_like(count_params(snn), cfg.vocab_size, cfg.num_hidden_layers, max_positions=longest + 64)
    lcfg._attn_implementation = 'sdpa'
    llama = LlamaForCausalLM(lcfg).to(dev, dtype=torch.bfloat16 if cuda else torch.float32).eval()
    info.update(snn_params=count_params(snn), llama_params=count_params(llama), llama_layers=lcfg.num_hidden_layers,
                llama_hidden=lcfg.hidden_size, snn_state_bytes=4 * state_floats(cfg), llama_kv_bytes_per_token=(2 if cuda else 4) * kv_cache_floats(lcfg, 1))
    print(f"SNN {a.preset}: {info['snn_params']:,} parameters, state {info['snn_state_bytes']/2**20:.2f} MiB per sequence | "
          f"Llama: {info['llama_params']:,} parameters (L={lcfg.num_hidden_layers}, d={lcfg.hidden_size}), "
          f"KV cache {info['llama_kv_bytes_per_token']/2**10:.1f} KiB per token", flush=True)
    g = torch.Generator().manual_seed(0)
    ids_all = torch.randint(5, cfg.vocab_size, (1, longest + 1), generator=g).to(dev)
    check_ids = torch.randint(5, cfg.vocab_size, (a.check_tokens,), generator=g).to(dev)   # tokens fed to compare fast steps with eager
    snn8 = None if a.no_int8 else quantize_weights(copy.deepcopy(snn))   # int8 linear weights, the rest as in `snn`
    snn16 = quantize_weights(copy.deepcopy(snn), 'bf16') if cuda else None  # bf16 matrices: for bf16 autocast, so CUDA only
    if a.val_data:                                         # the loss int8 costs, on the run's validation text
        from neuronspark.sample import loss_change
        texts = [json.loads(l)['text'] for l in open(a.val_data) if l.strip()]
        toks = [t for x in texts for t in [tok_.bos_token_id] + tok_(x, add_special_tokens=False)['input_ids']][:a.val_batches * 8 * 512]
        vb = torch.tensor(toks[:len(toks) // (8 * 512) * 8 * 512]).view(-1, 8, 512)
        info['val_loss'] = loss_change(snn, vb)
        print(f"validation loss ({vb.shape[0]} batches of 8 x 512): fp32 {info['val_loss']['fp32']:.4f} | int8 {info['val_loss']['int8']:.4f} | "
              f"change {info['val_loss']['change']:+.4f} nats/token", flush=True)
    decode, ttft = [], []

    def rec(kind, model, ctx, b, ms, status='ok', note=''):
        r = dict(model=model, context=ctx, batch=b, status=status)
        if ms is not None: r.update(ms=statistics.median(ms), ms_all=[round(x, 4) for x in ms], tokens_per_s=b * 1e3 / statistics.median(ms))
        if note: r['note'] = note
        (ttft if kind == 'ttft' else decode).append(r)
        txt = f"{r['ms']:9.3f} ms" + (f"  {r['tokens_per_s']:10.1f} tok/s" if kind == 'decode' else '') if ms is not None else status
        print(f'{kind:>6} {model:<14} ctx {ctx:>6} batch {b:>3}: {txt} {note}', flush=True)

    def diverge(fast, slow, b, t0, resync=False):
        """Feed two `StaticDecoder`s `check_ids` token by token: the largest relative logit difference, greedy flips, seconds
        to the first pair. Each carries its own state, so a spike flipped at a near-tie changes every later step; with
        `resync` the fast one starts every step from the slow one's state, so the numbers are those of one step."""
        diff, flips, first_s = 0.0, 0, None
        for t in check_ids:
            if resync: _copy_states_(fast.states, slow.states)   # in place: a recorded graph reads the same buffers
            got, want = fast.step(t.repeat(b)).float(), slow.step(t.repeat(b)).float()
            if first_s is None: first_s = time.time() - t0
            diff = max(diff, (got - want).abs().max().item() / want.abs().max().item())
            flips += int((got.argmax(-1) != want.argmax(-1)).sum())
        return diff, flips, first_s

    def check_note(fast, slow, b, t0):
        "Both comparisons of `diverge` for a record: the note and the fields, and the seconds to the first pair."
        diff, flips, first_s = diverge(fast, slow, b, t0)
        d1, f1, _ = diverge(fast, slow, b, t0, resync=True)
        note = (f'{a.check_tokens} tokens vs its eager step: max rel. diff {diff:.1e}, greedy token differs {flips}x; '
                f'one step from the same state: {d1:.1e}, {f1}x')
        return note, dict(max_rel_diff=diff, greedy_flips=flips, step_rel_diff=d1, step_greedy_flips=f1, check_tokens=a.check_tokens), first_s

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
            # (batch 1: over --check_tokens consecutive tokens, against the same step run eagerly on its own fixed buffers)
            try:
                sd = StaticDecoder(snn, c, autocast=torch.bfloat16 if cuda else None)
                if b == 1:
                    ref = StaticDecoder(snn, c, graph=False, autocast=torch.bfloat16 if cuda else None)
                    what, fields, _ = check_note(sd, ref, b, time.time()); ref = None
                else:
                    with torch.no_grad(), ac(): want, _ = decode_step(snn, tok, c)
                    got = sd.step(tok).float()
                    fields = dict(max_rel_diff=(got - want.float()).abs().max().item() / want.float().abs().max().item())
                    what = f"first-step logits vs eager: max rel. diff {fields['max_rel_diff']:.1e}"
                gstep = lambda: sd.step(tok, check=False)
                measure(gstep, a.warmup)
                rec('decode', 'snn_graph', n, b, measure(gstep, a.steps),
                    note=f"({'CUDA graph' if sd.graph else 'eager, fixed buffers'}; {what})")
                decode[-1].update(fields)
            except Exception as e:
                if is_oom(e): raise
                rec('decode', 'snn_graph', n, b, None, status='failed', note=f'{type(e).__name__}: {e}'[:300])
            sd = None
            if b == 1:                 # compiled layers, int8 weights, both: each graphed on CUDA, checked over several tokens
                if n == contexts[0]:   # first (eager, no compiling), at the first context only: the yardstick for the checks
                                       # below, two exact-by-design eager steps, the fast kernels (Triton on CUDA, the compiled
                                       # loop on the CPU) and the reference operations (what the compiled layers fuse), fp32
                    class RefOps(StaticDecoder):          # the same eager decoder, its step through the reference operations
                        def step(self, t, check=True):
                            with use_impl('reference'): return super().step(t, check)
                    for prec, pname in ((None, 'fp32'),) + (((torch.bfloat16, 'bf16'),) if cuda else ()):   # bf16: the
                        tri = StaticDecoder(snn, c, graph=False, autocast=prec)                # yardstick of the bf16 rows
                        rfn = RefOps(snn, c, graph=False, autocast=prec)
                        what, fields, _ = check_note(rfn, tri, b, time.time())
                        fast = 'triton' if cuda else 'cpu'
                        decode.append(dict(model=f'snn_reference_vs_{fast}_{pname}', context=n, batch=b, status='check', **fields))
                        print(f"  check  eager reference ops vs eager {'Triton kernels' if cuda else 'compiled CPU loop'}, {pname}: {what}", flush=True)
                        tri = rfn = None
                    # generate_ids end to end, eagerly (ns-sample --eager) and with graph=True (ns-sample on a GPU): the
                    # time per new token, the prefill and (for the graph) the recording included, and the same greedy tokens
                    prompt, gen_out = ids_all[0, :n].tolist(), {}
                    for gname, graph in (('snn_generate', False), ('snn_generate_graph', True)):
                        def gen():
                            with torch.no_grad(), ac():
                                gen_out[gname] = generate_ids(snn, [prompt], max_new_tokens=a.check_tokens, eos_token_id=[], graph=graph)[0]
                        rec('decode', gname, n, b, [t / a.check_tokens for t in measure(gen, 2)],
                            note=f"(generate_ids{', graph=True' if graph else ''}: {a.check_tokens} greedy tokens, per token, prefill included)")
                    decode[-1]['same_tokens'] = gen_out['snn_generate'] == gen_out['snn_generate_graph']
                    print(f"  check  generate_ids graph=True vs eager: {'the same' if decode[-1]['same_tokens'] else 'different'} "
                          f"{a.check_tokens} greedy tokens", flush=True)
                bf16 = torch.bfloat16 if cuda else None
                if snn16 is not None and n == contexts[0]:   # bf16 matrices: autocast's own numbers, without its casts
                    with torch.no_grad():
                        l32 = StaticDecoder(snn, c, graph=False, autocast=bf16).step(tok).clone()
                        l16 = StaticDecoder(snn16, c, graph=False, autocast=bf16).step(tok).clone()
                    info['bf16w_equal'] = bool(torch.equal(l32, l16))
                    print(f"  check  bf16 matrices vs fp32 weights under bf16 autocast, one eager step: {'equal' if info['bf16w_equal'] else 'DIFFERENT'}", flush=True)
                # the fp32 compiled row (CUDA only: on the CPU every row is fp32) tells rounding apart from a wrong fusion
                for name, mdl, compiled, prec in (('snn_compiled', snn, True, bf16), ('snn_compiled_fp32', snn if cuda else None, True, None),
                                                  ('snn_bf16w', snn16, False, bf16), ('snn_bf16w_compiled', snn16, True, bf16),
                                                  ('snn_int8', snn8, False, bf16), ('snn_int8_compiled', snn8, True, bf16)):
                    if mdl is None or (compiled and a.no_compiled): continue
                    try:
                        t0 = time.time()
                        sd = StaticDecoder(mdl, c, autocast=prec, compile=compiled)
                        ref = StaticDecoder(mdl, c, graph=False, autocast=prec)   # its eager step, in the same precision
                        what, fields, build_s = check_note(sd, ref, b, t0)   # build_s: compilation, recording, the first steps
                        fn = lambda: sd.step(tok, check=False)
                        measure(fn, a.warmup)
                        rec('decode', name, n, b, measure(fn, a.steps),
                            note=f"({'int8' if mdl is snn8 else 'bf16' if mdl is snn16 else 'model'} weights, {'fp32, ' if cuda and prec is None else ''}{'compiled layers, ' if compiled else ''}{'CUDA graph' if sd.graph else 'eager'}; "
                                 f"ready after {build_s:.0f} s; {what})")
                        decode[-1].update(fields, build_s=build_s)
                    except Exception as e:
                        if is_oom(e): raise
                        rec('decode', name, n, b, None, status='failed', note=f'{type(e).__name__}: {e}'[:300])
                    sd = ref = fn = None
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
        # --- the fair anchor: the Llama with a static KV cache and its decode step compiled (a CUDA graph on CUDA), batch 1
        if not a.no_llama_graph:
            try:
                cache = StaticCache(config=lcfg, max_cache_len=n + 4 * (a.warmup + a.steps) + 16)   # room for every step timed
                tok = ids_all[:, n:n + 1].contiguous()
                with torch.no_grad():
                    llama(ids, past_key_values=cache, use_cache=True, logits_to_keep=1)                  # eager prefill
                    want = llama(ids_all[:, :n + 1], use_cache=False, logits_to_keep=1).logits[:, -1].float()
                def ll_step():
                    with torch.no_grad(): return llama(tok, past_key_values=cache, use_cache=True).logits[:, -1]
                fn = torch.compile(ll_step, mode='reduce-overhead' if cuda else 'default')
                got = fn().float().clone()                                                            # compiles; the cache moves on by one
                diff = (got - want).abs().max().item() / want.abs().max().item()
                measure(fn, a.warmup)
                rec('decode', 'llama_graph', n, 1, measure(fn, a.steps), note=f"(static cache, torch.compile {'reduce-overhead: CUDA graph' if cuda else 'default mode: CUDA graphs need CUDA'}; "
                                                                            f"first-step logits vs eager: max rel. diff {diff:.1e})")
                decode[-1]['max_rel_diff'] = diff
            except Exception as e:
                if is_oom(e): raise
                rec('decode', 'llama_graph', n, 1, None, status='failed', note=f'{type(e).__name__}: {e}'[:300])
            cache = fn = None
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

    # --- time to first token for one long prompt, batch 1 (issue 24's 16k case)
    long = {}
    if a.ttft_long:
        ids = ids_all[:, :a.ttft_long]
        def snn_long():
            with torch.no_grad(), ac(): prefill(snn, ids, chunk_size=a.chunk)
        def ll_long():
            with torch.no_grad(): llama(ids, use_cache=True, logits_to_keep=1)
        for name, fn in (('snn', snn_long), ('llama', ll_long)):
            try:
                fn()                                                                                  # warm-up at this length
                long[name] = statistics.median(measure(fn, 3))
                print(f'  ttft {name:<14} {a.ttft_long} tokens batch 1: {long[name]:9.3f} ms', flush=True)
            except RuntimeError as e:
                if not is_oom(e): raise
                print(f'  ttft {name} {a.ttft_long} tokens: out of memory', flush=True)
            if cuda: torch.cuda.empty_cache()
        # the layers as a pipeline over chunks (chapter 9): the same logits as prefill with the same chunks, checked first
        for c in [int(x) for x in a.pipe_chunks.split(',') if x.strip()]:
            name = f'snn_pipelined_{c}'
            try:
                with torch.no_grad(), ac():
                    want = prefill(snn, ids, chunk_size=c)[0].float()
                    got = prefill_pipelined(snn, ids, chunk_size=c)[0].float()
                diff = (got - want).abs().max().item() / want.abs().max().item()
                def timed(c=c):
                    with torch.no_grad(), ac(): prefill_pipelined(snn, ids, chunk_size=c)
                def plain(c=c):
                    with torch.no_grad(), ac(): prefill(snn, ids, chunk_size=c)
                long[f'snn_chunk_{c}'] = statistics.median(measure(plain, 3))
                long[name] = statistics.median(measure(timed, 3))
                long[f'{name}_max_rel_diff'] = diff
                print(f"  ttft {name:<14} {a.ttft_long} tokens batch 1: {long[name]:9.3f} ms  (prefill with the same chunks "
                      f"{long[f'snn_chunk_{c}']:.3f} ms: x{long[f'snn_chunk_{c}'] / long[name]:.2f}; logits vs prefill: max rel. diff {diff:.1e})", flush=True)
            except Exception as e:
                if is_oom(e): raise
                print(f'  ttft {name}: failed {type(e).__name__}: {e}'[:300], flush=True)
            if cuda: torch.cuda.empty_cache()

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
            lg_, i8 = get('llama_graph', n, b), [x for x in (get('snn_int8', n, b), get('snn_int8_compiled', n, b)) if x]
            if g and lg_: summary[f'llama_graph_over_graph_b{b}_ctx{n}'] = lg_ / g
            if g and i8: summary[f'int8_over_graph_b{b}_ctx{n}'] = min(i8) / g
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
    top = max(contexts)
    int8 = [x for x in (get('snn_int8', top, 1), get('snn_int8_compiled', top, 1)) if x]
    piped = [v for k, v in long.items() if k.startswith('snn_pipelined_') and not k.endswith('diff')]
    speed = dict(ttft_16k_ms=long.get('snn'), ttft_16k_llama_ms=long.get('llama'), ttft_16k_pipelined_ms=min(piped) if piped else None, decode_b1_ms=get('snn_graph', top, 1), decode_b1_compiled_ms=get('snn_compiled', top, 1),
                 decode_b1_bf16w_ms=get('snn_bf16w', top, 1), decode_b1_bf16w_compiled_ms=get('snn_bf16w_compiled', top, 1),
                 decode_b1_int8_ms=min(int8) if int8 else None, decode_llama_graph_ms=get('llama_graph', top, 1),
                 mfu_b8=None, peak_gib_b8=None,
                 ttft_tokens=a.ttft_long, decode_context=top, device=info['device'], preset=a.preset,
                 note='decode: batch 1 at decode_context tokens of context; decode_b1_ms is the graphed eager SNN step (decode_b1_compiled_ms the compiled layers\', not exact on a GPU yet), decode_b1_bf16w_ms the graphed step with bf16 matrices (exact; decode_b1_bf16w_compiled_ms with compiled layers, not exact), decode_b1_int8_ms '
                      'the faster of its int8 steps (graphed, compiled layers); ttft_16k_pipelined_ms the best chunk size of prefill_pipelined; mfu_b8 and peak_gib_b8 come from bench/bench_train.py')
    print('\nissue 24 summary:', json.dumps({k: v for k, v in speed.items() if k != 'note'}))
    print('\ntime to first token (batch 1, ms):', ', '.join(f"{r['model']} {r['context']}: {r['ms']:.1f}" for r in ttft))
    for k, v in summary.items(): print(f'{k}: {v:.3f}')
    info['seconds'] = time.time() - t_start
    print(f"total {info['seconds']:.0f} s")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        json.dump(dict(info=info, contexts=contexts, batches=batches, decode=decode, ttft=ttft, ttft_long=dict(tokens=a.ttft_long, **long),
                       summary=summary, speed=speed), open(a.out, 'w'), indent=1)
        print(f'wrote {a.out}')
    if a.speed_out:
        Path(a.speed_out).parent.mkdir(parents=True, exist_ok=True)
        json.dump(speed, open(a.speed_out, 'w'), indent=1)
        print(f'wrote {a.speed_out}')

if __name__ == '__main__': main()
