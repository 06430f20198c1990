"""Issue 24's decode step, its matrix products: at batch 1 every product of a layer has 16 rows (the K frames of one
token), so each one reads a whole weight matrix to do very little arithmetic, and its time should be the time to read
the weight from memory. The decode profile (`bench/profile_step.py --decode eager --quantize bf16`) shows cuBLAS far from
that on the small matrices: few thread blocks for an output of 768 columns, so most of the GPU waits.

For each product of a layer of `--preset` (the shapes come from the model's own layers, in bf16), this times side by side
in one run, each call replayed from a CUDA graph (as the decoder runs them) and each reading its weight from memory, not
from the L2 cache (the calls cycle through enough copies of the weight to overflow it):
- `F.linear` (cuBLAS, what the decoder runs today);
- a split-K Triton kernel: the weight's columns are cut into blocks and its reduction dimension into `split` pieces, so
  that enough programs run at once; each writes an fp32 partial sum, and one more kernel adds the partials in a fixed
  order (deterministic, so a CUDA graph and an eager step give the same numbers). Several block sizes and splits are
  tried per shape and the fastest is reported with its configuration;
- the bound: the weight's bytes at the device's copy bandwidth, measured in the same run (`bench_plif.copy_bandwidth`,
  chapter 4's yardstick: a large device-to-device copy, bytes read + written over time).
It also times the two merges the decoder could make without new kernels: the block's two products of the same input
(its selective rows and its gate/skip rows, one weight already) as one, and the FFN's gate/up and skip products as one.
Every result is checked against the product in fp32 (bf16 tolerance). Prints per-shape times, the ratios and what the
products of one layer and of the whole model cost per decode step each way; `--out` writes the JSON.

    python bench/bench_skinny_gemm.py --out bench/results/skinny_gemm_h100.json      # GPU, v75: about a minute
    python bench/bench_skinny_gemm.py --device cpu --smoke                            # CPU: Triton's interpreter, tiny shapes, checks only
"""
import argparse, json, math, os, statistics, sys, time
from pathlib import Path

def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='v75', help='model preset whose layer shapes are timed')
    ap.add_argument('--rows', type=int, default=None, help='rows of every product (default: the preset\'s frames per token, batch 1)')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--reps', type=int, default=50, help='calls per timed graph replay')
    ap.add_argument('--rounds', type=int, default=5, help='timed replays per method (median reported)')
    ap.add_argument('--smoke', action='store_true', help='tiny preset, a few configurations, correctness only (CPU: Triton interpreter)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    return ap.parse_args()

a = parse()
if a.device == 'cpu': os.environ.setdefault('TRITON_INTERPRET', '1')      # before triton is imported
import torch, torch.nn.functional as F
import triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parent))
INTERPRETED = os.environ.get('TRITON_INTERPRET') == '1'

@triton.jit
def splitk_kernel(x_ptr, w_ptr, part_ptr, M, N, K, k_per,          # x [M, K], w [N, K] (row-major), part [split, M, N] fp32
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, UPCAST: tl.constexpr):
    "One block of BN output columns over one piece (k_per) of the reduction: an fp32 partial sum."
    pid_n, pid_k = tl.program_id(0), tl.program_id(1)
    rm, rn = tl.arange(0, BM), pid_n * BN + tl.arange(0, BN)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    k0 = pid_k * k_per
    for k in range(k0, k0 + k_per, BK):
        rk = k + tl.arange(0, BK)
        xa = tl.load(x_ptr + rm[:, None] * K + rk[None, :], mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
        wb = tl.load(w_ptr + rn[None, :] * K + rk[:, None], mask=(rn[None, :] < N) & (rk[:, None] < K), other=0.0)   # [BK, BN]
        if UPCAST: xa, wb = xa.to(tl.float32), wb.to(tl.float32)   # the interpreter's bf16 dot is wrong; fp32 holds bf16 exactly
        acc += tl.dot(xa, wb)
    tl.store(part_ptr + (pid_k * M + rm[:, None]) * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))

def splitk_linear(x, w, BN=64, BK=64, split=1):
    "`x @ w.T` for a few rows: split-K partials in fp32, added in a fixed order, cast to x's dtype."
    M, K = x.shape; N = w.shape[0]
    BM = max(16, triton.next_power_of_2(M))
    k_per = triton.cdiv(triton.cdiv(K, split), BK) * BK                 # each piece a whole number of BK blocks
    split = triton.cdiv(K, k_per)
    part = torch.empty(split, M, N, device=x.device, dtype=torch.float32)
    splitk_kernel[(triton.cdiv(N, BN), split)](x, w, part, M, N, K, k_per, BM=BM, BN=BN, BK=BK, UPCAST=INTERPRETED)
    return (part[0] if split == 1 else part.sum(0)).to(x.dtype)

def layer_shapes(cfg):
    "(name, out_features, in_features, per layer) of every product a decoder layer runs, and the two merges it could make."
    D, DN, Ff = cfg.hidden_size, cfg.hidden_size * cfg.n_groups, cfg.intermediate_size
    return [('block: selective rows (W_in, W_beta, W_alpha, W_th)', 4 * DN, D, 1), ('block: gate and skip rows', 2 * D, D, 1),
            ('block: W_out', D, DN, 1), ('FFN: gate and up', 2 * Ff, D, 1), ('FFN: skip', D, D, 1), ('FFN: down', D, Ff, 1),
            ('layer: out1, out2', D, D, 2),
            ('merged: block selective + gate/skip', 4 * DN + 2 * D, D, 0), ('merged: FFN gate/up + skip', 2 * Ff + D, D, 0)]

def main():
    from neuronspark.model import NeuronSparkConfig
    cfg = NeuronSparkConfig.from_preset('tiny' if a.smoke else a.preset)
    dev, cuda = torch.device(a.device), a.device.startswith('cuda')
    rows = a.rows or cfg.k_frames
    shapes = layer_shapes(cfg)
    configs = [(32, 64, 1), (64, 64, 2)] if a.smoke else [(bn, bk, s) for bn in (32, 64, 128) for bk in (64, 128) for s in (1, 2, 4, 8, 16)]
    info = dict(device=torch.cuda.get_device_name(dev) if cuda else 'cpu (Triton interpreter)', torch=torch.__version__,
                triton=triton.__version__, preset='tiny' if a.smoke else a.preset,
                rows=rows, layers=cfg.num_hidden_layers, command=' '.join(['bench/bench_skinny_gemm.py'] + sys.argv[1:]),
                date=time.strftime('%Y-%m-%d %H:%M'))
    print(' | '.join(f'{k} {v}' for k, v in info.items()), flush=True)
    g = torch.Generator(device=dev).manual_seed(0)
    results = []
    if cuda:                                                               # the hardware limit, measured here (chapter 4's yardstick)
        from bench_plif import copy_bandwidth
        copy_bw = copy_bandwidth()[0] * 1e9                                # bytes/s, read + written
        info['copy_gbs'] = copy_bw / 1e9
        print(f'device copy bandwidth {copy_bw / 1e9:.0f} GB/s (bench_plif.copy_bandwidth: read + write of 2 GiB)')
        l2 = torch.cuda.get_device_properties(dev).L2_cache_size
    for name, n_out, n_in, per_layer in shapes:
        x = torch.randn(rows, n_in, device=dev, generator=g).bfloat16()
        w = (torch.randn(n_out, n_in, device=dev, generator=g) / n_in ** 0.5).bfloat16()
        ref = x.float() @ w.float().T
        tol = 2 ** -7 * ref.abs().max().item()                           # bf16 rounding of the output, with room for the sum order
        err = lambda y: (y.float() - ref).abs().max().item()
        row = dict(name=name, out_features=n_out, in_features=n_in, per_layer=per_layer, weight_mb=w.numel() * 2 / 1e6,
                   linear_err=err(F.linear(x, w)), tol=tol)
        assert row['linear_err'] <= tol, row
        checked = {}
        for bn, bk, s in configs:                                         # every configuration is checked before it is timed
            y = splitk_linear(x, w, bn, bk, s)
            e = err(y)
            assert e <= tol, (name, bn, bk, s, e, tol)
            assert torch.equal(y, splitk_linear(x, w, bn, bk, s)), (name, bn, bk, s)   # the partials add in a fixed order
            checked[bn, bk, s] = e
        row['splitk_max_err'] = max(checked.values())
        if cuda:
            copies = max(1, math.ceil(3 * l2 / (w.numel() * 2)))           # enough weights to overflow L2
            ws = [w.clone() for _ in range(copies)]
            def timed(fn):
                "Median seconds per call of `fn(weight)` over a graph of `reps` calls cycling through the copies."
                side = torch.cuda.Stream(); side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for i in range(3): fn(ws[i % copies])
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for i in range(a.reps): fn(ws[i % copies])
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                ts = []
                for _ in range(a.rounds):
                    e0.record(); graph.replay(); e1.record(); torch.cuda.synchronize(); ts.append(e0.elapsed_time(e1) / 1e3 / a.reps)
                return statistics.median(ts)
            row['linear_us'] = timed(lambda wi: F.linear(x, wi)) * 1e6
            best = min(((timed(lambda wi, c=c: splitk_linear(x, wi, *c)), c) for c in configs), key=lambda t: t[0])
            row['splitk_us'], row['splitk_config'] = best[0] * 1e6, dict(BN=best[1][0], BK=best[1][1], split=best[1][2])
            row['bound_us'] = w.numel() * 2 / copy_bw * 1e6
            print(f"{name:52s} {n_out:6d} x {n_in:5d} ({row['weight_mb']:5.1f} MB): cuBLAS {row['linear_us']:6.2f} us  split-K "
                  f"{row['splitk_us']:6.2f} us ({row['linear_us'] / row['splitk_us']:.2f}x)  bound {row['bound_us']:5.2f} us "
                  f"(cuBLAS at {row['bound_us'] / row['linear_us']:.0%}, split-K at {row['bound_us'] / row['splitk_us']:.0%})  {row['splitk_config']}", flush=True)
        else:
            print(f"{name:52s} {n_out:6d} x {n_in:5d}: F.linear error {row['linear_err']:.2e}, split-K error {row['splitk_max_err']:.2e} "
                  f"over {len(configs)} configurations (tolerance {tol:.2e})", flush=True)
        results.append(row)
    summary = {}
    if cuda:
        layer = lambda k: sum(r[k] * r['per_layer'] for r in results)
        by = {r['name']: r for r in results}
        summary = dict(layer_linear_us=layer('linear_us'), layer_splitk_best_us=sum(min(r['linear_us'], r['splitk_us']) * r['per_layer'] for r in results),
                       layer_bound_us=layer('bound_us'))
        merged = lambda k: (by['merged: block selective + gate/skip'][k] + by['merged: FFN gate/up + skip'][k] - by['block: selective rows (W_in, W_beta, W_alpha, W_th)'][k]
                            - by['block: gate and skip rows'][k] - by['FFN: gate and up'][k] - by['FFN: skip'][k])
        summary['layer_linear_merged_us'] = summary['layer_linear_us'] + merged('linear_us')
        L = info['layers']
        print(f"one layer's products: cuBLAS {summary['layer_linear_us']:.1f} us, with the two merges {summary['layer_linear_merged_us']:.1f} us, "
              f"the faster of cuBLAS and split-K for each {summary['layer_splitk_best_us']:.1f} us, bound {summary['layer_bound_us']:.1f} us; "
              f"x {L} layers: {summary['layer_linear_us'] * L / 1e3:.3f} / {summary['layer_linear_merged_us'] * L / 1e3:.3f} / "
              f"{summary['layer_splitk_best_us'] * L / 1e3:.3f} / {summary['layer_bound_us'] * L / 1e3:.3f} ms per decode step")
    else: print(f'all {len(results)} shapes x {len(configs)} configurations within bf16 tolerance of the fp32 product')
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(dict(info=info, shapes=results, summary=summary), indent=1))
        print(f'wrote {a.out}')

if __name__ == '__main__': main()
