"""Serving throughput: ns-serve's continuous batching against one-at-a-time serving, N concurrent streaming clients.

Usage: python bench/bench_serve.py --device cpu --preset tiny --out bench/results/serve_cpu_tiny.json   (2-core CPU: ~2 minutes)
       python bench/bench_serve.py --device cuda --preset small --out bench/results/serve_gpu_small.json   (one GPU)

A model of `--preset` with random weights (speed does not depend on the weights) is saved with the committed tokenizer
into a temporary folder, and served twice by the real command, `ns-serve` (a subprocess on 127.0.0.1, nothing else is
reached): with `--max_batch` = the largest concurrency (continuous batching) and with `--max_batch 1` (one request at
a time, in arrival order). For each concurrency c, c clients (asyncio + httpx, one thread) each send `--rounds`
streaming completions one after the other, with `ignore_eos` so that every request generates exactly `--tokens`
tokens, greedy, prompts of `--prompt_tokens` random ids, all requests different. Reported per point: tokens/s (every
generated token over the wall time from the first request sent to the last answer finished) and the median (p50)
time to first token (request sent -> first streamed chunk, which the server sends with the first token). `--llama`
adds a Llama of the same parameter count served the same way (ns-serve serves it one request at a time). Prints a
table and the ratios at the largest concurrency, writes one JSON file.
"""
import argparse, asyncio, json, os, random, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path

def save(res, out):
    "Write the results so far (a no-op without --out)."
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(res, indent=1) + '\n')

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start_server(folder, max_batch, a):
    "`ns-serve` in a subprocess on a free localhost port; returns (process, base url) once it answers."
    import httpx
    port = free_port()
    launcher = Path(folder) / 'ns_serve.py'                              # what the `ns-serve` console script runs
    launcher.write_text('from neuronspark.serve import ns_serve\nns_serve()\n')
    cmd = [sys.executable, str(launcher), str(folder), '--port', str(port),
           '--max_batch', str(max_batch), '--device', a.device, '--precision', a.precision, '--model_name', 'bench',
           '--max_tokens', str(a.tokens), '--max_prompt_tokens', str(a.prompt_tokens + 8)] + (['--eager'] if a.eager else [])
    log = open(Path(folder) / f'serve_{port}.log', 'w')                # not a pipe: an unread pipe would block the server
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    url, t0 = f'http://127.0.0.1:{port}/v1', time.time()
    while True:
        if proc.poll() is not None: raise RuntimeError(f'ns-serve exited: {Path(log.name).read_text()[-3000:]}')
        try:
            if httpx.get(url + '/models', timeout=1).status_code == 200: return proc, url
        except httpx.HTTPError: pass
        if time.time() - t0 > 300: proc.kill(); raise RuntimeError('ns-serve did not start in 300 s')
        time.sleep(0.2)

async def one_request(client, url, prompt, a):
    "Stream one completion; return (seconds to first chunk, tokens generated, seconds in all)."
    body = dict(model='bench', prompt=prompt, max_tokens=a.tokens, temperature=0, ignore_eos=True, stream=True,
                stream_options=dict(include_usage=True))
    t0, ttft, n = time.perf_counter(), None, None
    async with client.stream('POST', url + '/completions', json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith('data: ') or line == 'data: [DONE]': continue
            if ttft is None: ttft = time.perf_counter() - t0
            ev = json.loads(line[6:])
            if ev.get('usage'): n = ev['usage']['completion_tokens']
    if n != a.tokens: raise RuntimeError(f'a request generated {n} tokens, expected {a.tokens}')
    return ttft, n, time.perf_counter() - t0

async def run_level(url, c, prompts, a):
    "c clients, each sending `rounds` requests back to back; returns tokens/s, p50 TTFT and what was measured."
    import httpx
    async def client_loop(i, client):
        return [await one_request(client, url, prompts[(i * a.rounds + k) % len(prompts)], a) for k in range(a.rounds)]
    limits = httpx.Limits(max_connections=c + 4, max_keepalive_connections=c + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0), limits=limits) as client:
        t0 = time.perf_counter()
        res = sum(await asyncio.gather(*(client_loop(i, client) for i in range(c))), [])
        wall = time.perf_counter() - t0
    toks = sum(r[1] for r in res)
    return dict(clients=c, requests=len(res), tokens=toks, seconds=wall, tokens_per_s=toks / wall,
                ttft_p50_ms=1e3 * statistics.median(r[0] for r in res), ttft_max_ms=1e3 * max(r[0] for r in res))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='small', help='SNN preset: tiny, small or v75')
    ap.add_argument('--device', default='cuda', help='cpu or cuda')
    ap.add_argument('--precision', default='auto', help='auto (bf16 autocast on CUDA, fp32 on CPU), bf16, fp32')
    ap.add_argument('--clients', default='1,2,4,8,16,32', help='concurrency levels, comma-separated')
    ap.add_argument('--tokens', type=int, default=64, help='tokens generated per request (ignore_eos)')
    ap.add_argument('--prompt_tokens', type=int, default=32, help='prompt length, tokens')
    ap.add_argument('--rounds', type=int, default=2, help='requests per client, one after the other')
    ap.add_argument('--llama', action='store_true', help='also serve a Llama of the same size (one request at a time)')
    ap.add_argument('--eager', action='store_true', help="ns-serve --eager: decode steps kernel by kernel, not the static decoder's CUDA graph")
    ap.add_argument('--threads', type=int, default=0, help='CPU: torch threads in the server (0: torch default)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    a = ap.parse_args()
    import torch
    from neuronspark.train import build_model
    from neuronspark.tokenizer import load_tokenizer
    if a.threads: os.environ['OMP_NUM_THREADS'] = str(a.threads)      # read by the server subprocesses' torch
    levels = [int(x) for x in a.clients.split(',')]
    tok, rng = load_tokenizer(), random.Random(0)
    prompts = [[tok.bos_token_id] + [rng.randrange(10, len(tok)) for _ in range(a.prompt_tokens - 1)] for _ in range(max(levels) * a.rounds)]
    tmp = Path(tempfile.mkdtemp(prefix='bench_serve_'))
    archs = ['snn'] + (['llama'] if a.llama else [])
    modes = [('snn', 'batched', max(levels)), ('snn', 'one_at_a_time', 1)] + ([('llama', 'one_at_a_time', 1)] if a.llama else [])
    torch.manual_seed(0)
    for arch in archs:
        build_model(arch, a.preset).save_pretrained(tmp / arch); tok.save_pretrained(tmp / arch)
    res = dict(preset=a.preset, device=a.device, precision=a.precision, tokens=a.tokens, prompt_tokens=a.prompt_tokens,
               rounds=a.rounds, threads=a.threads or torch.get_num_threads(), torch=torch.__version__,
               gpu=torch.cuda.get_device_name() if a.device.startswith('cuda') else None, cpus=os.cpu_count(), points=[])
    for arch, mode, mb in modes:
        proc, url = start_server(tmp / arch, mb, a)
        try:
            asyncio.run(run_level(url, 1, prompts, argparse.Namespace(**{**vars(a), 'rounds': 1})))   # warm-up
            for c in levels:
                p = dict(arch=arch, mode=mode, max_batch=mb, **asyncio.run(run_level(url, c, prompts, a)))
                res['points'].append(p)
                print(f"{arch:>5} {mode:>14} clients {c:3d}: {p['tokens_per_s']:8.1f} tok/s, TTFT p50 {p['ttft_p50_ms']:8.1f} ms "
                      f"(max {p['ttft_max_ms']:.0f}), {p['requests']} requests in {p['seconds']:.1f} s", flush=True)
                save(res, a.out)                              # after every point: a run cut short keeps what it measured
        finally: proc.terminate(); proc.wait(30)
    get = lambda arch, mode, c: next(p for p in res['points'] if (p['arch'], p['mode'], p['clients']) == (arch, mode, c))
    top = max(levels)
    b, o = get('snn', 'batched', top), get('snn', 'one_at_a_time', top)
    res['summary'] = dict(clients=top, throughput_ratio=b['tokens_per_s'] / o['tokens_per_s'],
                          ttft_p50_ratio=o['ttft_p50_ms'] / b['ttft_p50_ms'],
                          batched_speedup_vs_1_client=b['tokens_per_s'] / get('snn', 'batched', min(levels))['tokens_per_s'])
    if a.llama: res['summary']['throughput_ratio_vs_llama'] = b['tokens_per_s'] / get('llama', 'one_at_a_time', top)['tokens_per_s']
    for k, v in res['summary'].items(): print(f'{k}: {v:.2f}' if isinstance(v, float) else f'{k}: {v}')
    save(res, a.out)
    if a.out: print(f'wrote {a.out}')

if __name__ == '__main__': main()
