"""Training throughput of a NeuronSpark preset next to a Hugging Face Llama (happy-llm's 215M), on one GPU or several.

One run, one GPU: every configuration (model x per-GPU batch x gradient checkpointing x AdamW implementation) trains for
`--warmup` untimed steps and `--steps` timed ones on seeded synthetic token ids with chapter 7's `train_step`, the step
`train()` runs (bf16 autocast, fp32 weights, gradient clipping, AdamW over the training loop's parameter groups, DDP under
torchrun): this script only builds the models, times the steps and reports. It reports tokens/s, model-FLOP utilisation (MFU), peak memory
and the forward / backward / optimizer split, prints a table, the best setting per model and the SNN/Llama ratios, and
rewrites the JSON (`--out`) after every configuration, so a run that is cut off keeps what it measured.

    python bench/bench_train.py                       # v75 + Llama sweep -> bench/results/train_h100.json (~4-7 min on an H100)
    python bench/bench_train.py --compare_exact       # fast vs plain loss curves -> bench/results/exact_h100.json (~3 min)
    torchrun --standalone --nproc_per_node 2 bench/bench_train.py --ddp --batches 2,4 --ckpt on --llama_batches ''
    bash bench/bench_train_ddp.sh OUT_DIR             # 1 GPU then 2 GPUs, same per-GPU batches, and the scaling
    python bench/bench_train.py --device cpu --preset tiny --steps 3   # CPU smoke test (seq 32, batch 2) -> out/train_cpu.json
    python bench/bench_train.py --scans fused,unfused --ckpt on --llama_batches ''   # before / after the fused PLIF kernels
    python bench/bench_train.py --scans fused,fused_walk --batches 8 --ckpt on --llama_batches ''  # segmented backward or not
    python bench/bench_train.py --scans fused,fused_f32spikes --batches 7,8 --ckpt proj,2+proj --llama_batches ''  # input spikes in bf16 or fp32

Model FLOPs per token (forward = 2 FLOPs, one multiply-add, per weight and token; fwd + bwd = 3 x forward; recomputation by
checkpointing is not counted, so this is MFU, not hardware FLOP utilisation):
- SNN:   6 * P_layers * K  +  6 * P_token  +  6 * D * V.  The L decoder layers (P_layers) see every one of the K frames of a
  token; the encoder/decoder projections and the output norm (P_token, the non-embedding rest) run once per token; the tied
  head is a D x V matrix product per token; the embedding lookup costs nothing. (Counting all non-embedding parameters K
  times, 6 * (P - V*D) * K, would overstate v75's FLOPs by ~2.8%.)
- Llama: 6 * (P - V*D)  +  6 * D * V  +  12 * L * D * S  (PaLM's convention: attention scores and weighted values over the
  whole S-token window, not halved for the causal mask).
MFU = FLOPs per token x tokens/s / (GPUs x dense bf16 peak); the peak comes from the GPU's name (`gpu_peak_tflops`) or
`--peak_tflops`, and is printed.

The Llama reference is happy-llm's 215M model as a `LlamaForCausalLM`: dim 1024, 18 layers, 16 heads, 8 KV heads, vocab
6144, tied embeddings, 512 positions, and happy-llm's MLP width (the Llama-2 rule with multiple_of=64: 64 *
ceil(int(2/3 * 4 * 1024) / 64) = 2752). transformers' `LlamaConfig` default (11008) is Llama-2-7B's fixed width, not a
function of dim, so it is not used. Attention runs through PyTorch's SDPA (flash kernels on an H100).
"""
from __future__ import annotations
import contextlib, functools, gc, json, math, os, platform, statistics, sys, time
from pathlib import Path
import torch
import torch.distributed as dist
import torch.nn as nn
from fastcore.script import call_parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # the source tree's neuronspark, without installing it
# Segments the caching allocator can grow in place: less memory lost to fragmentation near the limit (at v75 batch 8 with
# all but two layers keeping their activations, the difference between fitting and not). Set before CUDA starts.
os.environ.setdefault('PYTORCH_CUDA_ALLOC_CONF', 'expandable_segments:True')
from neuronspark.model import NeuronSparkConfig, checkpoint_plan
from neuronspark.train import TrainConfig, count_params, build_model, make_optimizer, init_distributed, wrap_ddp, train_step
from neuronspark.data import atomic_write

# Dense (no sparsity) bf16 tensor-core peaks per GPU, TFLOP/s, from the vendors' data sheets; first matching name wins.
PEAK_BF16_TFLOPS = [('GH200', 989.0), ('H200', 989.0), ('H100 PCIE', 756.0), ('H100 NVL', 835.0), ('H100', 989.0),
                    ('H800', 989.0), ('B200', 2250.0), ('A100', 312.0), ('A800', 312.0), ('L40S', 362.0)]

def gpu_peak_tflops(name:str) -> float|None:
    "Dense bf16 peak (TFLOP/s) of the GPU called `name` (H100 SXM 989, H100 PCIe 756, H200 989, ...); None if unknown."
    up = name.upper()
    return next((p for key, p in PEAK_BF16_TFLOPS if key in up), None)

def happy_llm_config(vocab_size:int=6144, seq:int=512, **kw):
    "happy-llm's 215M Llama (dim 1024, 18 layers, 16 heads, 8 KV heads, MLP 2752, tied) as a transformers `LlamaConfig`."
    from transformers import LlamaConfig
    dim, multiple_of = 1024, 64
    hidden = multiple_of * ((int(2 * 4 * dim / 3) + multiple_of - 1) // multiple_of)          # 2752
    return LlamaConfig(vocab_size=vocab_size, hidden_size=dim, intermediate_size=hidden, num_hidden_layers=18,
                       num_attention_heads=16, num_key_value_heads=8, max_position_embeddings=seq, rms_norm_eps=1e-5,
                       tie_word_embeddings=True, use_cache=False, **kw)

def bench_model(arch:str,              # 'snn' or 'llama'
                preset:str='v75',      # SNN preset (tiny, small, v75)
                seq:int=512,           # tokens per row (Llama positions)
                seed:int=0,            # initialisation
                device='cpu',          # where the weights are created
               ) -> nn.Module:
    "The SNN of `preset` (chapter 7's `build_model`) or the happy-llm Llama, initialised from `seed`, in fp32 on `device`, in training mode."
    torch.manual_seed(seed)
    if arch == 'snn':
        try:
            with torch.device(device): m = build_model('snn', preset)
        except Exception:                                   # an init op that insists on the CPU: build there, then move
            m = build_model('snn', preset)
    elif arch == 'llama':
        from transformers import LlamaForCausalLM
        with torch.device(device): m = LlamaForCausalLM(happy_llm_config(seq=seq, attn_implementation='sdpa'))
    else: raise ValueError(f"bench_model: `arch` must be 'snn' or 'llama', got {arch!r}")
    return m.to(device).train()

def ckpt_name(ck) -> str:
    "'on', 'off', 'N' (the first N layers), 'proj' or 'N+proj' (chapter 6's `checkpointing`)."
    return ('on' if ck else 'off') if isinstance(ck, bool) else str(ck)

def set_checkpointing(model:nn.Module, on) -> None:
    """Activation checkpointing: for the SNN any value of its `checkpointing` setting (chapter 6; True is 'layers', False
    'none', an int N the first N layers, 'proj' / 'N+proj'); for the Llama True/False (HF's non-reentrant switch)."""
    if isinstance(getattr(model, 'config', None), NeuronSparkConfig): return model.set_checkpointing(on)
    if not isinstance(on, bool): raise ValueError(f'set_checkpointing: a number of checkpointed layers ({on}) is for the SNN only')
    if hasattr(model, 'activation_checkpointing_enable'):       # newer transformers 5 name; the old one is deprecated
        if on: model.activation_checkpointing_enable(activation_checkpointing_kwargs={'use_reentrant': False})
        else: model.activation_checkpointing_disable()
    elif on: model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={'use_reentrant': False})
    else: model.gradient_checkpointing_disable()

def flops_per_token(model:nn.Module, seq:int) -> tuple:
    "(model FLOPs per token for forward + backward, the formula with its numbers); see the module docstring."
    c, P = model.config, count_params(model)
    D, V = c.hidden_size, c.vocab_size
    if hasattr(c, 'k_frames'):
        K = c.k_frames
        P_layers = sum(p.numel() for p in model.layers.parameters())
        P_tok = P - V * D - P_layers
        f = 6 * P_layers * K + 6 * P_tok + 6 * D * V
        return f, f'6*P_layers*K + 6*P_token + 6*D*V = 6*{P_layers}*{K} + 6*{P_tok} + 6*{D}*{V}'
    L = c.num_hidden_layers
    f = 6 * (P - V * D) + 6 * D * V + 12 * L * D * seq
    return f, f'6*(P - V*D) + 6*D*V + 12*L*D*S = 6*{P - V * D} + 6*{D}*{V} + 12*{L}*{D}*{seq}'

def markov_tokens(vocab_size:int,   # V
                  n:int,            # batches
                  batch:int,        # rows per batch
                  seq:int,          # tokens per row
                  seed:int=0,       # the chain (successor table); the same for every process
                  stream:int=0,     # which sample of the chain (e.g. the process rank)
                  branch:int=4,     # successors per token: the best achievable loss is ln(branch)
                  active:int=256,   # distinct ids the chain visits (a random subset of the vocabulary)
                 ) -> torch.Tensor: # token ids `[n, batch, seq]` (int64, CPU)
    "Seeded synthetic ids from a random sparse bigram chain over `active` ids: a loss that falls (ln V -> ln active -> ln branch)."
    gc_ = torch.Generator().manual_seed(seed)
    ids = torch.randperm(vocab_size, generator=gc_)[:min(active, vocab_size)]          # the ids in use
    succ = torch.randint(0, len(ids), (len(ids), branch), generator=gc_)             # successor table, by position in `ids`
    g = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * (stream + 1))
    x = torch.empty(n * batch, seq, dtype=torch.long)
    x[:, 0] = torch.randint(0, len(ids), (n * batch,), generator=g)
    pick = torch.randint(0, branch, (n * batch, seq), generator=g)
    for t in range(1, seq): x[:, t] = succ[x[:, t - 1], pick[:, t]]
    return ids[x].view(n, batch, seq)

OPTIMS = ('fused', 'foreach', 'forloop')     # AdamW implementations (chapter 7's `TrainConfig.adam_impl`)

def step_config(optim:str='fused', lr:float=3e-4, precision:str='bf16') -> TrainConfig:
    "The training settings of every measured step: AdamW (`optim`: fused, foreach or forloop), weight decay 0.1, clip 1.0, constant `lr`."
    if optim not in OPTIMS: raise ValueError(f'bench_train: the AdamW implementation must be one of {list(OPTIMS)}, got {optim!r}')
    return TrainConfig(optimizer='adamw', adam_impl=optim, lr=lr, weight_decay=0.1, clip=1.0, precision=precision, progress=False, tensorboard=False)

SCAN_KINDS = ('auto', 'triton', 'cpu', 'reference', 'fused', 'torch', 'unfused')

@contextlib.contextmanager
def scan_impl(kind:str='auto'):
    """Which implementation every scan of the model uses, by chapter 1's `use_impl`; yields `[1]` (kept for callers that
    counted rerouted calls). 'auto' | 'triton' | 'cpu' | 'reference' are the library's settings; the names of earlier
    result files map onto them: 'fused' = 'auto', 'torch' and 'unfused' = 'cpu' (every scan in chapter 3's plain path)."""
    if kind not in SCAN_KINDS: raise ValueError(f"scan_impl: `kind` must be one of {list(SCAN_KINDS)}, got {kind!r}")
    from neuronspark.plif import use_impl
    with use_impl({'fused': 'auto', 'torch': 'cpu', 'unfused': 'cpu'}.get(kind, kind)): yield [1]

class Proc:
    "This process's place and device (chapter 7's `init_distributed`); `agree` reduces a number over processes (identity for one)."
    def __init__(self, device:str='auto', ddp:bool=False):
        if int(os.environ.get('WORLD_SIZE', 1)) > 1 and not ddp: raise SystemExit('bench_train: started by torchrun with several processes: add --ddp')
        self.d, self.dev = init_distributed(device)
        self.rank, self.world, self.main = self.d.rank, self.d.world, self.d.main
    def agree(self, x:float, op:str='max') -> float:
        if self.world == 1: return x
        t = torch.tensor([float(x)], dtype=torch.float64, device=self.dev)
        dist.all_reduce(t, op=dist.ReduceOp.MAX if op == 'max' else dist.ReduceOp.SUM)
        return t.item()

def _clock(cuda:bool):
    "A mark function: records a CUDA event (no sync) or reads the CPU clock; `elapsed(a, b)` in seconds after a sync."
    if cuda:
        def mark():
            e = torch.cuda.Event(enable_timing=True); e.record(); return e
        return mark, lambda a, b: a.elapsed_time(b) / 1e3
    return time.perf_counter, lambda a, b: b - a

def timed_steps(net:nn.Module,      # the model, or its DDP wrapper
                model:nn.Module,    # the model itself (its gradients are clipped)
                opt,                # optimizer
                batches,            # token ids `[n, B, S]` on the device: one step per batch, the ids are their own labels
                cfg:TrainConfig,    # `step_config`: clip, precision
                p:Proc=None,        # processes (None: one)
                lr_fn=None,         # lr of step i (None: keep the optimizer's)
               ) -> tuple:          # (this process's mean losses `[n]` on the device, marks per step (start, forward, backward, end))
    "Chapter 7's `train_step` on every batch, unguarded (no host sync), with a clock mark before it and after its forward, backward and update."
    mark, _ = _clock(batches.is_cuda)
    ac = (lambda: torch.autocast(batches.device.type, dtype=torch.bfloat16)) if cfg.precision == 'bf16' else contextlib.nullcontext
    d, n_local = p.d if p is not None else None, batches.shape[1] * (batches.shape[2] - 1)
    sums, marks = [], []
    for i, ids in enumerate(batches):
        if lr_fn is not None:
            for g in opt.param_groups: g['lr'] = lr_fn(i)
        m = [mark()]
        s, _, _ = train_step(net, model, opt, [dict(input_ids=ids, labels=ids)], n_local * (d.world if d else 1), cfg, d, ac,
                             guard=False, mark=lambda: m.append(mark()))
        marks.append(tuple(m)); sums.append(s[0])
    return torch.stack(sums).float() / n_local, marks

def _is_oom(e:BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or 'out of memory' in str(e).lower()

def _free(dev):
    gc.collect()
    if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)

def measure(model:nn.Module, net:nn.Module, d:Proc, arch:str, preset:str, batch:int, ckpt:bool, optim:str,
            seq:int=512, steps:int=8, warmup:int=2, lr:float=3e-4, seed:int=0, peak:float|None=None, scan:str='fused') -> dict:
    "Train one configuration `warmup + steps` steps; one flat result row (status 'ok' or 'oom')."
    c = model.config
    f_tok, formula = flops_per_token(model, seq)
    row = dict(arch=arch, preset=preset if arch == 'snn' else 'happy-llm-215M', params=count_params(model), batch=batch,
               seq=seq, world=d.world, global_batch=batch * d.world, ckpt=ckpt, optim=optim, scan=scan if arch == 'snn' else '-', precision='bf16',
               k_frames=getattr(c, 'k_frames', 1), steps=steps, warmup=warmup, flops_per_token=f_tok, flops_formula=formula)
    set_checkpointing(model, ckpt)
    model.zero_grad(set_to_none=True); _free(d.dev)
    ids = markov_tokens(c.vocab_size, warmup + steps, batch, seq, seed, stream=d.rank).to(d.dev)
    opt, err, cfg = None, None, step_config(optim, lr)
    try:
        opt = make_optimizer(model, cfg)
        w0 = time.perf_counter()
        with scan_impl(scan if arch == 'snn' else 'auto'):
            losses, marks = timed_steps(net, model, opt, ids, cfg, d)
        if d.dev.type == 'cuda': torch.cuda.synchronize(d.dev)
        wall = time.perf_counter() - w0
    except Exception as e:
        if not _is_oom(e): raise
        err = f'{type(e).__name__}: {str(e).splitlines()[0][:160]}'
    if err is not None:                                  # out of the except block: the traceback's frames are gone
        opt = None; model.zero_grad(set_to_none=True); _free(d.dev)
        return {**row, 'status': 'oom', 'error': err}
    _, el = _clock(d.dev.type == 'cuda')
    timed = marks[warmup:]
    step_s = [el(m[0], m[3]) for m in timed]
    tot = d.agree(el(timed[0][0], timed[-1][3]))         # the slowest process sets the pace
    tok_s = d.world * batch * seq * len(timed) / tot
    med = lambda i, j: statistics.median(el(m[i], m[j]) for m in timed)
    row.update(status='ok', step_s=tot / len(timed), step_s_median=statistics.median(step_s), step_s_min=min(step_s),
               fwd_s=med(0, 1), bwd_s=med(1, 2), opt_s=med(2, 3), tokens_per_s=tok_s, first_step_s=el(marks[0][0], marks[0][3]),
               wall_s=wall, loss_first=losses[0].item(), loss_last=losses[-1].item())
    row['model_tflops'] = f_tok * tok_s / 1e12
    row['mfu'] = row['model_tflops'] / (d.world * peak) if peak else None
    if d.dev.type == 'cuda':
        row['peak_alloc_gib'] = d.agree(torch.cuda.max_memory_allocated(d.dev) / 2**30)
        row['peak_reserved_gib'] = d.agree(torch.cuda.max_memory_reserved(d.dev) / 2**30)
    opt = None; model.zero_grad(set_to_none=True); _free(d.dev)
    return row

def save_json(path, obj) -> None:
    "Write `obj` as JSON atomically (temp file + rename): a run killed mid-write leaves the previous version."
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, default=str)))

def environment(d:Proc, peak:float|None, peak_src:str) -> dict:
    "Device, versions and the peak used (one flat dict)."
    import transformers
    env = dict(device=str(d.dev), world=d.world, torch=torch.__version__, transformers=transformers.__version__,
               python=platform.python_version(), date=time.strftime('%Y-%m-%d %H:%M:%S'), peak_tflops=peak, peak_source=peak_src)
    if d.dev.type == 'cuda':
        import triton
        p = torch.cuda.get_device_properties(d.dev)
        env.update(gpu=torch.cuda.get_device_name(d.dev), gpu_mem_gib=p.total_memory / 2**30, sms=p.multi_processor_count,
                   triton=triton.__version__, cuda=torch.version.cuda)
    else: env['gpu'] = None
    return env

def fmt_table(rows:list) -> str:
    "The result rows as a fixed-width text table."
    head = f"{'model':<15}{'batch':>6}{'ckpt':>7}{'optim':>8}{'scan':>16}{'step s':>8}{'fwd':>7}{'bwd':>7}{'opt':>7}{'tokens/s':>10}{'MFU':>7}{'alloc':>7}{'resv':>7}  status"
    out = [head, '-' * len(head)]
    for r in rows:
        name = f"{r['arch']} {r['preset'] if r['arch'] == 'snn' else '215M'}"
        b = f"{r['batch']}x{r['world']}" if r['world'] > 1 else str(r['batch'])
        if r['status'] != 'ok':
            out.append(f"{name:<15}{b:>6}{ckpt_name(r['ckpt']):>7}{r['optim']:>8}{r.get('scan', '-'):>16}  {r['status']}: {r.get('error', '')}"); continue
        mfu = f"{100 * r['mfu']:.1f}%" if r.get('mfu') is not None else '-'
        mem = (f"{r['peak_alloc_gib']:>7.1f}{r['peak_reserved_gib']:>7.1f}" if 'peak_alloc_gib' in r else f"{'-':>7}{'-':>7}")
        out.append(f"{name:<15}{b:>6}{ckpt_name(r['ckpt']):>7}{r['optim']:>8}{r.get('scan', '-'):>16}{r['step_s']:>8.3f}{r['fwd_s']:>7.3f}{r['bwd_s']:>7.3f}"
                   f"{r['opt_s']:>7.3f}{r['tokens_per_s']:>10,.0f}{mfu:>7}{mem}  ok")
    return '\n'.join(out)

def summarise(rows:list) -> dict:
    "Best row (highest tokens/s) per model and the SNN / Llama ratios of tokens/s and MFU."
    ok = [r for r in rows if r['status'] == 'ok']
    best = {a: max((r for r in ok if r['arch'] == a), key=lambda r: r['tokens_per_s'], default=None) for a in ('snn', 'llama')}
    s = {}
    for a, r in best.items():
        if r is None: continue
        s.update({f'best_{a}_{k}': r.get(k) for k in ('batch', 'ckpt', 'optim', 'scan', 'tokens_per_s', 'mfu', 'peak_alloc_gib', 'step_s')})
    if best['snn'] and best['llama']:
        s['ratio_tokens_per_s_snn_over_llama'] = best['snn']['tokens_per_s'] / best['llama']['tokens_per_s']
        if best['snn']['mfu'] and best['llama']['mfu']: s['ratio_mfu_snn_over_llama'] = best['snn']['mfu'] / best['llama']['mfu']
    return s

def _plan(preset, batches, llama_batches, ckpts, llama_ckpts, optims, scans=('fused',)) -> list:
    "Configurations in priority order: first optimizer before the others; within one, SNN (each scan path) then Llama with the first ckpt setting, then the second."
    plan = []
    for o in optims:
        for i in range(max(len(ckpts), len(llama_ckpts))):
            for arch, bs, cks in (('snn', batches, ckpts), ('llama', llama_batches, llama_ckpts)):
                if i < len(cks): plan += [(arch, preset, b, cks[i], o, sc) for sc in (scans if arch == 'snn' else ('-',)) for b in bs]
    return plan

def sweep(preset:str='v75', batches=(1, 2, 4, 8), llama_batches=(8, 16, 32, 64), ckpts=(True, False), llama_ckpts=(False, True),
          optims=('fused', 'foreach'), scans=('fused',), seq:int=512, steps:int=8, warmup:int=2, lr:float=3e-4, budget_s:float=420, peak_tflops:float=0,
          out:str|None=None, device:str='auto', ddp:bool=False, seed:int=0, verbose:bool=True) -> dict:
    "Measure every configuration in priority order within `budget_s`; returns (and saves after each) {env, rows, summary}."
    t_start = time.perf_counter()
    d = Proc(device, ddp)
    gpu = torch.cuda.get_device_name(d.dev) if d.dev.type == 'cuda' else 'cpu'
    peak, src = (peak_tflops, '--peak_tflops') if peak_tflops else (gpu_peak_tflops(gpu), f'data sheet, from the name {gpu!r}')
    if peak is None: src = f'unknown for {gpu!r}: MFU not computed (pass --peak_tflops)'
    say = print if (verbose and d.main) else (lambda *a, **k: None)
    res = dict(env=environment(d, peak, src), rows=[], summary={})
    say(f"{res['env']['gpu'] or 'CPU'} | {d.world} process(es) | torch {torch.__version__} | peak {peak} TFLOP/s bf16 dense ({src})", flush=True)
    plan, models, last_step, oom_at = _plan(preset, batches, llama_batches, ckpts, llama_ckpts, optims, scans), {}, {}, {}
    for arch, pre, b, ck, o, sc in plan:
        row0 = dict(arch=arch, preset=pre if arch == 'snn' else 'happy-llm-215M', batch=b, seq=seq, world=d.world, ckpt=ck, optim=o, scan=sc)
        key = (arch, ck, o, sc)
        if key in oom_at and b > oom_at[key]:
            res['rows'].append({**row0, 'status': 'skipped', 'error': f'batch {oom_at[key]} ran out of memory'}); continue
        elapsed = time.perf_counter() - t_start
        ref = last_step.get(arch)                       # (batch, seconds per step) of this model's latest config
        est = (warmup + steps) * ref[1] * max(1.0, b / ref[0]) if ref else 0.0
        if d.agree(float(elapsed + est > budget_s)) > 0:
            res['rows'].append({**row0, 'status': 'skipped', 'error': f'budget: {elapsed:.0f} s used + ~{est:.0f} s > --budget_s {budget_s:g}'})
            say(f'skip {arch} batch {b} ckpt {ck} {o}: time budget', flush=True); continue
        if arch not in models:
            m = net = None; models.clear(); _free(d.dev)   # one model on the device at a time
            m = bench_model(arch, pre, seq, seed, d.dev)
            net = wrap_ddp(m, d.d, d.dev)
            models[arch] = (m, net)
        m, net = models[arch]
        row = measure(m, net, d, arch, pre, b, ck, o, seq, steps, warmup, lr, seed, peak, sc if arch == 'snn' else 'fused')
        if row['status'] == 'oom': oom_at[key] = min(b, oom_at.get(key, b))
        else: last_step[arch] = (b, row['step_s'])
        res['rows'].append(row); res['summary'] = summarise(res['rows'])
        res['env']['elapsed_s'] = time.perf_counter() - t_start
        if d.main and out: save_json(out, res)
        if row['status'] == 'ok':
            mfu = f" | MFU {100 * row['mfu']:.1f}%" if row['mfu'] is not None else ''
            mem = f" | peak {row['peak_alloc_gib']:.1f} GiB allocated, {row['peak_reserved_gib']:.1f} reserved" if 'peak_alloc_gib' in row else ''
            say(f"{arch:<5} batch {b}{'x' + str(d.world) if d.world > 1 else ''} ckpt {ckpt_name(ck):3} {o:<7}{' ' + sc if arch == 'snn' else ''}: {row['step_s']:.3f} s/step "
                f"(first {row['first_step_s']:.1f} s) | {row['tokens_per_s']:,.0f} tokens/s{mfu}{mem} | loss {row['loss_first']:.2f} -> {row['loss_last']:.2f}", flush=True)
        else: say(f"{arch:<5} batch {b} ckpt {ckpt_name(ck):3} {o:<7}{' ' + sc if arch == 'snn' else ''}: out of memory", flush=True)
    res['env']['elapsed_s'] = time.perf_counter() - t_start
    if d.main:
        if out: save_json(out, res)
        say('\n' + fmt_table(res['rows']))
        s = res['summary']
        for a in ('snn', 'llama'):
            if f'best_{a}_batch' in s:
                mfu = f", MFU {100 * s[f'best_{a}_mfu']:.1f}%" if s[f'best_{a}_mfu'] is not None else ''
                mem = f", {s[f'best_{a}_peak_alloc_gib']:.1f} GiB" if s.get(f'best_{a}_peak_alloc_gib') is not None else ''
                say(f"best {a}: batch {s[f'best_{a}_batch']} per process, checkpointing {ckpt_name(s[f'best_{a}_ckpt'])}, "
                    f"{s[f'best_{a}_optim']} AdamW: {s[f'best_{a}_tokens_per_s']:,.0f} tokens/s{mfu}{mem}")
        if 'ratio_tokens_per_s_snn_over_llama' in s:
            say(f"SNN / Llama: tokens/s x{s['ratio_tokens_per_s_snn_over_llama']:.4f}"
                + (f", MFU x{s['ratio_mfu_snn_over_llama']:.3f}" if 'ratio_mfu_snn_over_llama' in s else ''))
        say(f"{res['env']['elapsed_s']:.0f} s in all" + (f'; wrote {out}' if out else ''))
    return res

EXACT_RUNS = {   # run order: the slow plain path first (it sets the step count when time runs short); add knobs here as they appear
    'plain':      dict(optim='forloop', ckpt=False, scan='torch', precision='bf16'),
    'fast':       dict(optim='fused',   ckpt='2+proj', scan='fused_and', precision='bf16'),   # two layers recomputed whole, the others' projections; the AND kernels
    'plain_fp32': dict(optim='forloop', ckpt=False, scan='torch', precision='fp32'),
}

def exact_check(preset:str='small',     # SNN preset
                steps:int=30,           # optimizer steps
                batch:int=4,            # rows per step
                seq:int=128,            # tokens per row
                lr:float=3e-3,          # AdamW learning rate after a linear warmup
                warmup:int=5,           # warmup steps
                seed:int=0,             # initial weights and data (the same for every run)
                plain_scan:str='torch', # scans of the plain runs: 'torch' (chapter 3's `plif_scan`) or 'auto'
                fp32:bool=True,         # also the plain path in fp32: the yardstick for bf16 noise
                budget_s:float=480,     # stop a run early when the whole check would pass this; curves are compared over the common steps
                device:str='auto',      # auto, cuda, cpu
                out:str|None=None,      # JSON path, rewritten after every run
                verbose:bool=True,
               ) -> dict:               # settings, per-run summaries, loss curves, max |difference|
    "Train the same initial SNN on the same batches with the fast and the plain settings (`EXACT_RUNS`); return the loss curves."
    t_start, d = time.perf_counter(), Proc(device, False)
    say = print if verbose else (lambda *a, **k: None)
    ids = markov_tokens(NeuronSparkConfig.from_preset(preset).vocab_size, steps, batch, seq, seed).to(d.dev)
    runs = {k: dict(v, scan=plain_scan if k.startswith('plain') else v['scan']) for k, v in EXACT_RUNS.items() if fp32 or k != 'plain_fp32'}
    res = dict(env=environment(d, None, 'not used'), preset=preset, steps=steps, batch=batch, seq=seq, lr=lr, warmup=warmup, seed=seed,
               data='markov_tokens: random bigram chain over 256 ids, 4 successors each (ln 256 = 5.55, best loss ln 4 = 1.386)',
               clip=1.0, runs={}, curves={})
    share = {'plain': 0.45, 'fast': 0.25, 'plain_fp32': 1.0}                     # fraction of the time left that a run may use
    for name, r in runs.items():
        model = bench_model('snn', preset, seq, seed, 'cpu').to(d.dev)           # the same initial weights for every run
        set_checkpointing(model, r['ckpt'])
        cfg = step_config(r['optim'], lr, r['precision'])
        opt = make_optimizer(model, cfg)
        n = min([steps] + [len(c) for c in res['curves'].values()])              # no more steps than an earlier, cut-off run
        t0 = time.perf_counter(); deadline = t0 + share[name] * (budget_s - (t0 - t_start))
        curve = []
        with scan_impl(r['scan']) as calls:
            for i in range(n):
                loss, _ = timed_steps(model, model, opt, ids[i:i + 1], cfg, d, lambda _, i=i: lr * min(1.0, (i + 1) / warmup))
                curve.append(loss[0].item())
                if time.perf_counter() > deadline and i + 1 < n: say(f'{name}: time share used up after {i + 1} steps'); break
        secs = time.perf_counter() - t0
        if r['scan'] != 'auto' and calls[0] == 0: raise RuntimeError(f"compare_exact: scan='{r['scan']}' did not reach the model's scans")
        res['runs'][name] = dict(r, steps_run=len(curve), seconds=secs, s_per_step=secs / len(curve),
                                 scan_calls=calls[0] if r['scan'] != 'auto' else None, loss_first=curve[0], loss_last=curve[-1])
        res['curves'][name] = curve
        say(f"{name:<11} {r}: {len(curve)} steps in {secs:.1f} s | loss {curve[0]:.4f} -> {curve[-1]:.4f}", flush=True)
        del model, opt; _free(d.dev)
        if out: save_json(out, res)
    c = res['curves']
    diff = lambda a, b: max(abs(x - y) for x, y in zip(c[a], c[b]))             # over the steps both ran
    res['steps_compared'] = min(len(v) for v in c.values())
    res['max_abs_diff_fast_vs_plain'] = diff('fast', 'plain')
    res['first_step_abs_diff_fast_vs_plain'] = abs(c['fast'][0] - c['plain'][0])
    say(f"max |loss(fast) - loss(plain)| over {len(c['fast'])} steps: {res['max_abs_diff_fast_vs_plain']:.2e} "
        f"(step 0, the same weights: {res['first_step_abs_diff_fast_vs_plain']:.2e})")
    if 'plain_fp32' in c:
        res['max_abs_diff_plain_bf16_vs_fp32'] = diff('plain', 'plain_fp32')
        res['within_bf16_noise'] = res['max_abs_diff_fast_vs_plain'] <= max(res['max_abs_diff_plain_bf16_vs_fp32'], 1e-3)
        say(f"bf16 noise yardstick, max |loss(plain bf16) - loss(plain fp32)|: {res['max_abs_diff_plain_bf16_vs_fp32']:.2e} "
            f"-> fast path within it: {res['within_bf16_noise']}")
    res['elapsed_s'] = time.perf_counter() - t_start
    if out: save_json(out, res); say(f'wrote {out}')
    return res

def scaling(one:str,         # result JSON of a one-process run
            many:str,        # result JSON of a torchrun run with the same settings
            verbose:bool=True,
           ) -> list:        # one dict per configuration measured in both
    "Multi-GPU scaling: tokens/s of `many` over tokens/s of `one` for each (model, per-GPU batch, checkpointing, optimizer)."
    A, B = json.loads(Path(one).read_text()), json.loads(Path(many).read_text())
    key = lambda r: (r['arch'], r['batch'], r['ckpt'], r['optim'])
    base = {key(r): r for r in A['rows'] if r['status'] == 'ok'}
    rows = [dict(arch=r['arch'], batch_per_gpu=r['batch'], ckpt=r['ckpt'], optim=r['optim'], gpus=r['world'],
                 tokens_per_s_1=base[key(r)]['tokens_per_s'], tokens_per_s_n=r['tokens_per_s'],
                 scaling=r['tokens_per_s'] / base[key(r)]['tokens_per_s'])
            for r in B['rows'] if r['status'] == 'ok' and key(r) in base]
    for r in rows: r['efficiency'] = r['scaling'] / r['gpus']
    if verbose:
        print(f"{A['env'].get('gpu') or A['env']['device']} | 1 process vs {B['env']['world']} processes")
        for r in rows:
            print(f"{r['arch']:<5} batch {r['batch_per_gpu']}/GPU ckpt {ckpt_name(r['ckpt']):3} {r['optim']:<7}: {r['tokens_per_s_1']:>9,.0f} -> "
                  f"{r['tokens_per_s_n']:>9,.0f} tokens/s on {r['gpus']} GPUs = x{r['scaling']:.2f} ({100 * r['efficiency']:.0f}% efficiency)")
    return rows

def default_out(kind:str, device:str='auto', world:int=1) -> str:
    "Where results go unless --out says: bench/results/{kind}_{gpu}[_x{world}].json on a GPU (h100, h200, ...), out/ (git-ignored) on a CPU."
    if device == 'cpu' or (device == 'auto' and not torch.cuda.is_available()): return f'out/{kind}_cpu.json'
    name = torch.cuda.get_device_name(torch.device(device) if device not in ('auto', 'cuda') else None).upper()
    tag = next((k.lower() for k in ('GH200', 'H200', 'H100', 'H800', 'B200', 'A100', 'L40S') if k in name), 'gpu')
    return f'bench/results/{kind}_{tag}' + (f'_x{world}' if world > 1 else '') + '.json'

_flags = lambda s, fn=str: [fn(x) for x in s.split(',') if x.strip()]
def _onoff(s:str) -> list:
    "'on,off,12,proj,4+proj' -> [True, False, 12, 'proj', '4+proj'] (numbers and proj: the SNN only, chapter 6's `checkpoint_plan`)."
    out = []
    for x in (x.strip().lower() for x in s.split(',') if x.strip()):
        if x in ('on', 'off'): out.append(x == 'on')
        elif x.isdigit(): out.append(int(x))
        else:
            try: checkpoint_plan(x, 10**6); out.append(x)
            except ValueError: raise SystemExit(f"bench_train: checkpointing must be on, off, a number of layers, proj or N+proj, got {x!r}")
    return out

@call_parse
def main(preset:str='v75',             # SNN preset: tiny, small, v75
         batches:str=None,             # per-GPU SNN batch sizes, comma-separated; larger ones are skipped after an OOM (default 1,2,4,8; CPU 2)
         llama_batches:str=None,       # per-GPU batch sizes of the happy-llm Llama reference, '' = no Llama (default 8,16,32,64; CPU 2)
         ckpt:str='on,off',            # SNN gradient checkpointing settings to sweep, in order: on, off, a number N (the first N layers only; less recomputation for more memory), proj or N+proj (the other layers recompute only their selective projection)
         llama_ckpt:str='off,on',      # the Llama's checkpointing settings
         scans:str='auto',             # SNN scan implementations to sweep (chapter 1's `use_impl`): auto (Triton on CUDA), triton, cpu, reference; earlier result names: fused = auto, torch and unfused = cpu
         optim:str=None,               # AdamW implementations to sweep, in priority order: fused (fused=True), foreach, forloop (default fused,foreach; CPU fused)
         seq:int=None,                 # tokens per row; the SNN runs seq x K frames (default 512; CPU 32)
         steps:int=8,                  # timed steps per configuration
         warmup:int=2,                 # untimed steps first (Triton compilation, allocator, optimizer state)
         lr:float=3e-4,                # AdamW learning rate (weight decay 0.1 on matrices, clip 1.0)
         budget_s:float=420,           # seconds: the sweep skips configurations that would end later; --compare_exact cuts runs short
         peak_tflops:float=0,          # dense bf16 peak per GPU in TFLOP/s (0: from the GPU's name: H100 SXM/H200 989)
         out:str=None,                 # result JSON, rewritten as results come ('' = none; default: bench/results/train_h100.json, exact_h100.json, train_h100_x2.json, ... by GPU; out/*_cpu.json on a CPU)
         device:str='auto',            # auto (cuda if available), cuda, cpu
         ddp:bool=False,               # under torchrun: one process per GPU, DDP (NCCL; gloo with --device cpu)
         seed:int=0,                   # initialisation and synthetic data
         compare_exact:bool=False,     # instead of the sweep: loss curves of the fast and the plain training paths
         exact_preset:str='small',     # --compare_exact: SNN preset
         exact_steps:int=30,           # --compare_exact: optimizer steps
         exact_batch:int=4,            # --compare_exact: rows per step
         exact_seq:int=128,            # --compare_exact: tokens per row
         exact_lr:float=3e-3,          # --compare_exact: learning rate (linear warmup over 5 steps)
         exact_plain_scan:str='torch', # --compare_exact: scans of the plain path: torch (chapter 3 `plif_scan`) or auto
         no_fp32:bool=False,           # --compare_exact: skip the third run (plain in fp32, the bf16-noise yardstick)
         scaling_of:str='',            # 'ONE.json,MANY.json': print the multi-GPU scaling of two result files and exit
        ):
    "Tokens/s, MFU and peak memory of NeuronSpark training next to happy-llm's Llama, or (--compare_exact) fast-vs-plain loss curves."
    if scaling_of:
        one, many = scaling_of.split(',')
        rows = scaling(one, many)
        if out: save_json(out, dict(one=one, many=many, rows=rows))     # only where --out is given
        return
    if compare_exact:
        if ddp: raise SystemExit('bench_train: --compare_exact runs in one process (drop --ddp / torchrun)')
        exact_check(exact_preset, exact_steps, exact_batch, exact_seq, exact_lr, seed=seed, plain_scan=exact_plain_scan,
                    fp32=not no_fp32, budget_s=budget_s, device=device, out=default_out('exact', device) if out is None else out or None)
    else:
        cpu = device == 'cpu' or (device == 'auto' and not torch.cuda.is_available())   # small defaults for a CPU smoke test
        if batches is None: batches = '2' if cpu else '1,2,4,8'
        if llama_batches is None: llama_batches = '2' if cpu else '8,16,32,64'
        if seq is None: seq = 32 if cpu else 512
        if optim is None: optim = 'fused' if cpu else 'fused,foreach'
        sweep(preset, _flags(batches, int), _flags(llama_batches, int), _onoff(ckpt), _onoff(llama_ckpt), _flags(optim), _flags(scans), seq, steps,
              warmup, lr, budget_s, peak_tflops, default_out('train', device, int(os.environ.get('WORLD_SIZE', 1))) if out is None else out or None,
              device, ddp, seed)
    if dist.is_initialized(): dist.destroy_process_group()
