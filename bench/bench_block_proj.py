"""Time SNNBlock's six input projections as six GEMMs vs one stacked GEMM (forward + backward) on a GPU.

Usage: python bench/bench_block_proj.py [--d 768] [--n 8] [--rows 16384] [--reps 20] [--dtype bf16]
Rows = batch x frames (v7.5 training: 2 x 8,192). Prints one line per variant and the saving.
"""
import argparse, statistics, torch

def bench(f, reps):
    for _ in range(3): f()                                   # warm-up (cuBLAS heuristics, allocator)
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); f(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return statistics.median(ts)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--d', type=int, default=768); ap.add_argument('--n', type=int, default=8)
    ap.add_argument('--rows', type=int, default=2 * 8192); ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--dtype', default='bf16', choices=['bf16', 'fp32'])
    a = ap.parse_args()
    dt = torch.bfloat16 if a.dtype == 'bf16' else torch.float32
    D, N = a.d, a.n
    g = torch.Generator('cuda').manual_seed(0)
    x = (torch.rand(a.rows, D, device='cuda', generator=g) < 0.25).to(dt).requires_grad_()
    sizes = [D * N] * 4 + [D] * 2
    W = (torch.randn(sum(sizes), D, device='cuda', generator=g) / D ** 0.5).to(dt).requires_grad_()
    Ws = [w.detach().clone().requires_grad_() for w in W.split(sizes)]
    gy = torch.randn(a.rows, sum(sizes), device='cuda', generator=g).to(dt)
    def six(): torch.cat([x @ w.T for w in Ws], -1).backward(gy)
    def six_nocat():
        ys = [x @ w.T for w in Ws]; torch.autograd.backward(ys, list(gy.split(sizes, -1)))
    def one(): (x @ W.T).backward(gy)
    print(f'{torch.cuda.get_device_name(0)}, torch {torch.__version__}, rows {a.rows}, D {D}, N {N}, {a.dtype}, fwd+bwd')
    t = {'six GEMMs + cat': bench(six, a.reps), 'six GEMMs, no cat': bench(six_nocat, a.reps), 'one GEMM': bench(one, a.reps)}
    flops = 3 * 2 * a.rows * D * sum(sizes)
    for k, v in t.items(): print(f'{k:>18}: {v:7.3f} ms  ({flops / v / 1e9:6.1f} TFLOP/s)')
    print(f'one GEMM saves {1 - t["one GEMM"] / t["six GEMMs + cat"]:.0%} vs six + cat, {1 - t["one GEMM"] / t["six GEMMs, no cat"]:.0%} vs six without cat')

if __name__ == '__main__': main()
