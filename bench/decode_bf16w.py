"""The decode step with the matrices stored in bf16 (chapter 6c's `bf16_matrices`), side by side with the same step on
fp32 weights, all under bf16 autocast on one GPU: a short probe of the rows `bench/bench_sample.py` records as
`snn_graph`, `snn_bf16w` and `snn_bf16w_compiled`, without its Llama anchors, int8 rows and prefill timings.
    python bench/decode_bf16w.py --out bench/results/decode_bf16w_h200.json        (v75, contexts 128 and 16,384)
    python bench/decode_bf16w.py --device cpu --preset tiny --contexts 16 --out /tmp/p.json   (a smoke test: no graphs)
Each row: the median of `--reps` timings of `--steps` steps (CUDA events), the ratio to the fp32-weight graphed step,
and the row's logits against its own eager step over `--check_tokens` consecutive tokens (largest relative
difference, how often the greedy token differs), so a fast row that is not the same step shows."""
import argparse, copy, json, statistics, time
import torch
from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM, prefill
from neuronspark.runs import quantize_weights
from neuronspark.sample import StaticDecoder
from bench_sample import timer                     # CUDA events around each call on a GPU

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument('--preset', default='v75'); p.add_argument('--contexts', default='128,16384')
p.add_argument('--steps', type=int, default=50); p.add_argument('--reps', type=int, default=5)
p.add_argument('--check_tokens', type=int, default=64); p.add_argument('--device', default='cuda')
p.add_argument('--out', required=True)
a = p.parse_args()
dev, cuda = torch.device(a.device), a.device.startswith('cuda')
amp = torch.bfloat16                               # bf16 matrices are for bf16 autocast (on the CPU too, for the smoke test)
torch.manual_seed(0)
cfg = NeuronSparkConfig.from_preset(a.preset)
fp32w = NeuronSparkForCausalLM(cfg).to(dev).eval()
bf16w = quantize_weights(copy.deepcopy(fp32w), 'bf16')
contexts = [int(x) for x in a.contexts.split(',')]
ids = torch.randint(5, cfg.vocab_size, (1, max(contexts) + a.check_tokens + 1), device=dev)
measure = timer(dev)

def timed(sd, tok):
    "Median ms per step of `sd` over `reps` runs of `steps` steps."
    def steps():
        for _ in range(a.steps): sd.step(tok, check=False)
    for _ in range(5): sd.step(tok, check=False)
    return statistics.median(measure(steps, a.reps)) / a.steps

rows = []
for n in contexts:
    with torch.no_grad(), torch.autocast(dev.type, dtype=amp):
        _, cache = prefill(fp32w, ids[:, :n], chunk_size=2048)
    tok = ids[0, n:n + 1]
    with torch.no_grad():
        l32 = StaticDecoder(fp32w, cache, graph=False, autocast=amp).step(tok).clone()
        l16 = StaticDecoder(bf16w, cache, graph=False, autocast=amp).step(tok).clone()
    same = bool(torch.equal(l32, l16))
    print(f'context {n}: bf16 matrices vs fp32 weights, one eager step: {"equal" if same else "DIFFERENT"}', flush=True)
    for name, model, comp in (('fp32w_graph', fp32w, False), ('bf16w_graph', bf16w, False), ('bf16w_compiled', bf16w, True)):
        t0 = time.time()
        sd = StaticDecoder(model, cache, autocast=amp, compile=comp)
        ref = StaticDecoder(model, cache, graph=False, autocast=amp)
        diff, flips = 0.0, 0
        for i in range(a.check_tokens):
            t = ids[0, n + 1 + i:n + 2 + i]
            got, want = sd.step(t).float(), ref.step(t).float()
            diff = max(diff, ((got - want).abs().max() / want.abs().max()).item()); flips += int(got.argmax() != want.argmax())
        build = time.time() - t0
        ms = timed(sd, tok)
        rows.append(dict(context=n, row=name, ms=ms, graph=sd.graph is not None, compiled=comp, ready_s=round(build, 1),
                         max_rel_diff=diff, greedy_flips=flips, check_tokens=a.check_tokens, bf16w_equal_fp32w=same))
        base = next(r['ms'] for r in rows if r['context'] == n and r['row'] == 'fp32w_graph')
        print(f'  {name:15s} {ms:8.3f} ms  x{base / ms:5.2f} vs fp32w_graph  (ready after {build:.0f} s; {a.check_tokens} tokens '
              f'vs its eager step: max rel. diff {diff:.1e}, greedy token differs {flips}x)', flush=True)
        sd = ref = None
info = dict(device=torch.cuda.get_device_name(dev) if cuda else 'cpu', preset=a.preset, steps=a.steps, reps=a.reps,
            torch=torch.__version__, rows=rows)
json.dump(info, open(a.out, 'w'), indent=1)
print('wrote', a.out)
