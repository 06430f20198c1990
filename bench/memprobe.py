"""The delayed-copy memory probe of chapter 7a: train fresh models to output the symbol they read `lag` positions
earlier, for several lags, and write their accuracies to one JSON file that the chapter reads.

    python bench/memprobe.py [--preset tiny] [--arms llama,snn,...] [--lags 1,2,4,8] [--steps 300] [--out FILE]

Each arm is a model and its recipe (chapter 7's `RECIPES['gap']`: Muon for both, at 1e-3 for the spiking model and
3e-3 for the Llama; for the spiking model pre-norm, centering, the v75b initialisation and surrogate sharpness 2) plus
the config fields the arm changes. Every parameter group runs at the recipe's one rate: pretraining's 10x for the
neuron parameters is an arm of its own (`snn_n10`), and `lr`/`neuron_lr_mult` in an arm's screen change the rates.
Every (arm, lag) trains a fresh model from the same seed on the same rows. Runs on a CPU or one GPU (bf16 autocast
there); prints one line per run, and the table at the end.

Screens of neuron changes that no scan implements run the selective neurons through a plain loop (`plif_screen`
below) and the whole model on the reference path, about 20x slower: `snn_levels2`/`snn_levels3` fire a count
n = sum_k H(v - k theta), k = 1..L, per frame (0..L instead of 0/1), the reset subtracts n theta, and the backward has
a surrogate at each level; `snn_resetgrad` lets the gradient flow through the reset (theta * s, which every scan of the
course treats as a constant); `snn_noreset` removes the reset of the selective neurons, and `snn_linear` also reads
them by their membrane, which makes each block's state a linear recurrence read linearly (a diagonal selective SSM);
`snn_linear_out` also bypasses the block's output neuron (`block_out='continuous'`), so that the block hands its
read-out to the stream as a real number: spikes remain at every sublayer's input and in the FFN; `snn_linear_io` also
bypasses the block's input neuron (`block_in='continuous'`): the block is then a selective SSM on real numbers, and
spikes remain in the token's code and the FFN. `snn_tokconv` keeps every spike and adds what a Mamba layer has
before its state: a depthwise causal convolution over the last 4 tokens (each frame plus learned per-channel weights
times the same frame of the 3 tokens before), applied to each block's input spikes (`TokenConv`). `snn_noffn` drops
every layer's FFN sublayer (`ffn='off'`).

Screens of the token's code and the read-out: `snn_analog` hands each frame of a token its encoder value z (rescaled
to the bits' mean and spread) instead of z's K bits; `snn_readmean`/`snn_readlast` read a token's K frames equally, or
only the last, instead of weighing frame k by 2^-(k+1). Screens of how the block uses its state: `snn_readc` is
chapter 5's selective read (`block_read='selective'`: W_out weighs each timescale group by 1 + x_t W_C, as a Mamba
reads its state through C_t; `_init` arms start W_C from U(+-1/sqrt(D)) instead of zero); `snn_cpl_lr1e2` ties each
selective neuron's drive to its decay as a Mamba's step size ties them (`coupled_modulation`). Arms ending in `_lr3e3`/`_lr1e2`/`_lr1e3` run at that rate (every group),
`snn_n10` gives the neuron parameters pretraining's 10x. `snn_enc`/`snn_enc_lr1e2` normalise the encoder's input
(chapter 6's `encoder_norm`), the lever that closed most of the tiny model's gap on language.

`mamba` is the recurrent comparison without any spikes: a Hugging Face `MambaForCausalLM` (selective state of 16 per
channel, expansion 2, tied embeddings) with the spiking preset's depth and the width that matches its parameter count,
trained with the Llama's recipe. Its short causal convolution (over the last 4 positions, before the state) can copy
a few tokens back without any state; `mamba_noconv` shrinks it to one position, so that only the state remembers.

Two arms change what the model is asked to learn instead (`copy_task` below, same steps, evaluated at the arm's lag):
`snn_curriculum` trains at lag 1, then 2, 4, ... up to the lag, an equal share of the steps each; `snn_aux` adds, at
every position, heads that predict the symbols at every shorter lag too (a linear map of the final stream per extra
lag, then the model's own read-out), their mean loss added to the main one.
"""
import argparse, contextlib, json, sys, time
from pathlib import Path
import torch

ARMS = {   # name: (arch, config fields changed from the recipe[, a screen: `REWIRE` keys and `plif_screen` arguments[, a task of `copy_task`]])
    'llama': ('llama', {}),
    'mamba': ('mamba', {}),   # a recurrent model without spikes: Hugging Face's Mamba, same parameter count, the Llama's recipe
    'mamba_noconv': ('mamba', {'conv_kernel': 1}),   # ... without its short convolution over the last 4 tokens
    'snn': ('snn', {}),
    'snn_memb': ('snn', {'hidden_readout': 'membrane'}),
    'snn_ltau': ('snn', {'selective_init': 'v75b_long'}),
    'snn_memb_ltau': ('snn', {'hidden_readout': 'membrane', 'selective_init': 'v75b_long'}),
    'snn_k8': ('snn', {'k_frames': 8}),   # twice the frames per token (tiny: K = 4)
    'snn_k2': ('snn', {'k_frames': 2}),   # half
    'snn_k1': ('snn', {'k_frames': 1}),   # one frame per token: one step of every scan per token, as a Mamba takes
    'snn_levels2': ('snn', {}, dict(levels=2)),        # spike counts 0..2 on the selective neurons (reference path)
    'snn_levels3': ('snn', {}, dict(levels=3)),        # 0..3
    'snn_resetgrad': ('snn', {}, dict(reset_grad=True)),   # the reset's gradient kept (reference path)
    'snn_noreset': ('snn', {}, dict(reset=False)),   # the selective neurons never reset: leaky integrators that fire
    'snn_linear': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False)),   # ... read by their membrane: a linear state
    'snn_linear_out': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False, block_out='continuous')),   # ... and the block's output neuron bypassed
    'snn_linear_io': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False, block_out='continuous', block_in='continuous')),   # ... and its input neuron too
    'snn_tokconv': ('snn', {}, dict(token_conv=4)),   # a short causal convolution over tokens at each block's input (as a Mamba's)
    'snn_noffn': ('snn', {}, dict(ffn='off')),             # every layer without its FFN sublayer
    'snn_readmean': ('snn', {}, dict(frame_read='mean')),   # the read-out averages a token's K frames (the recipe weighs frame k by 2^-(k+1))
    'snn_readlast': ('snn', {}, dict(frame_read='last')),   # ... reads only its last frame, the one that has seen the whole token
    'snn_analog': ('snn', {}, dict(token_code='analog')),   # the token enters as its encoder value z in every frame, not as z's K bits
    'snn_lr3e3': ('snn', {}, dict(lr=3e-3)),                # the spiking model at the Llama's (and Mamba's) learning rate
    'mamba_noconv_lr1e3': ('mamba', {'conv_kernel': 1}, dict(lr=1e-3)),   # the Mamba without convolution at the spiking model's rate
    'mamba_noconv_lr1e2': ('mamba', {'conv_kernel': 1}, dict(lr=1e-2)),
    'snn_readc': ('snn', {'block_read': 'selective'}),       # the block reads its state through weights from its input, as a Mamba does
    'snn_readc_init': ('snn', {'block_read': 'selective'}, dict(read_init='uniform')),   # ... with W_C started away from zero
    'snn_readc_init_lr3e3': ('snn', {'block_read': 'selective'}, dict(read_init='uniform', lr=3e-3)),
    'snn_readc_lr3e3': ('snn', {'block_read': 'selective'}, dict(lr=3e-3)),
    'snn_readc_lr1e2': ('snn', {'block_read': 'selective'}, dict(lr=1e-2)),
    'snn_linear_io_lr1e2': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False, block_out='continuous', block_in='continuous', lr=1e-2)),
    'snn_cpl_lr1e2': ('snn', {}, dict(drive='coupled', lr=1e-2)),       # the drive tied to the decay, as a Mamba's step size ties them
    'snn_linear_io_cpl_lr1e2': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False, block_out='continuous', block_in='continuous', drive='coupled', lr=1e-2)),
    'snn_n10': ('snn', {}, dict(neuron_lr_mult=10.0)),                  # the neuron parameters at 10x the rate, as pretraining's recipe
    'snn_lr3e3_n1e2': ('snn', {}, dict(lr=3e-3, neuron_lr_mult=10 / 3)),   # matrices at 3e-3, the neuron parameters at 1e-2
    'snn_lr1e2': ('snn', {}, dict(lr=1e-2, neuron_lr_mult=1.0)),           # everything at 1e-2
    'snn_linear_io_lr3e3': ('snn', {'hidden_readout': 'membrane'}, dict(reset=False, block_out='continuous', block_in='continuous', lr=3e-3)),
    'snn_enc': ('snn', {'encoder_norm': True}),                          # chapter 6's normalised encoder input
    'snn_enc_lr1e2': ('snn', {'encoder_norm': True}, dict(lr=1e-2, neuron_lr_mult=1.0)),
    'snn_curriculum': ('snn', {}, {}, dict(curriculum=True)),   # lag 1, 2, 4, ... up to the lag (task screen)
    'snn_aux': ('snn', {}, {}, dict(aux=True)),                 # also predict every shorter lag (task screen)
}

class TokenConv(torch.nn.Module):
    "x + a depthwise causal convolution of the spikes x `[T*K, B, D]` over the previous `width - 1` tokens (frame k with frame k)."
    def __init__(self, d:int, k_frames:int, width:int=4):
        super().__init__()
        self.k, self.w = k_frames, width
        self.weight = torch.nn.Parameter(torch.zeros(width - 1, d))     # starts as the identity: x unchanged
    def forward(self, x):
        out = x
        for j in range(1, self.w):
            shifted = torch.cat([torch.zeros_like(x[:j * self.k]), x[:-j * self.k]]) if j * self.k < x.shape[0] else torch.zeros_like(x)
            out = out + self.weight[j - 1] * shifted
        return out

class ZeroUpdate(torch.nn.Module):
    "In place of a sublayer's output projection: the sublayer adds nothing to the stream (its neurons still run)."
    def forward(self, x): return torch.zeros_like(x)

REWIRE = {   # screen key: how it changes one decoder layer (the other keys of a screen go to `plif_screen`)
    'ffn': lambda layer, v, c: setattr(layer, 'out2', ZeroUpdate()),                                    # 'off'
    'token_conv': lambda layer, v, c: setattr(layer, 'in1', torch.nn.Sequential(layer.in1, TokenConv(c.hidden_size, c.k_frames, v))),
    'block_out': lambda layer, v, c: setattr(layer.block, 'out_node', torch.nn.Identity()),              # 'continuous': the read-out goes on as a real number
    'block_in': lambda layer, v, c: setattr(layer, 'in1', torch.nn.Identity()),                          # 'continuous': the block reads the (normalised) stream
}

def frame_read(model, how:str):
    """Change how `model.decode` weighs a token's K frames: 'mean' equally, 'last' frame K-1 only, instead of 2^-(k+1). The
    model's own `decode` runs on frames rescaled by new weight / 2^-(k+1) (powers of two and 1/K: the same sums)."""
    K, decode = model.config.k_frames, model.decode
    w = torch.full((K,), 1 / K) if how == 'mean' else torch.nn.functional.one_hot(torch.tensor(K - 1), K).float()
    scale = (w * 2.0 ** torch.arange(1, K + 1))[:, None, None]                        # [K, 1, 1], frame k of every token
    model.decode = lambda h: decode(h * scale.repeat(h.shape[0] // K, 1, 1).to(h))

def analog_code(model, how:str):
    """Replace `model.encode`'s K-bit code: every frame of a token carries its encoder value z = sigmoid(P e), rescaled to
    the bits' mean and spread (0.5 +- 0.5 per token across channels: at initialisation z is 0.5 +- a few hundredths)."""
    import torch.nn.functional as F
    K = model.config.k_frames
    def encode(input_ids, mask=None):
        B, T = input_ids.shape
        z = torch.sigmoid(F.linear(model.embed_tokens(input_ids).float(), model.encode_proj.weight.float(), model.encode_proj.bias.float()))
        c = z - 0.5
        z = 0.5 + 0.5 * c / c.pow(2).mean(-1, keepdim=True).add(1e-12).sqrt()
        if mask is not None: z = z * mask[:, :, None].to(z.dtype)
        return z.transpose(0, 1).repeat_interleave(K, dim=0)                    # [T*K, B, D]
    model.encode = encode

def read_init(model, how:str):
    "Start every block's selective read from PyTorch's default `Linear` init, U(+-1/sqrt(D)), instead of zero ('uniform')."
    for layer in model.layers:
        w = layer.block.read.weight
        with torch.no_grad(): w.uniform_(-w.shape[1] ** -0.5, w.shape[1] ** -0.5)

MODEL_REWIRE = {'frame_read': frame_read, 'token_code': analog_code, 'read_init': read_init}   # screen keys that change the whole model
RECIPE_KEYS = ('lr', 'neuron_lr_mult')                                                   # screen keys that change the arm's recipe

def mamba_like(preset:str, **fields):
    "A Hugging Face Mamba with the preset's depth and vocabulary and about its parameter count (chapter 7's `mamba_like`), `fields` on top."
    from transformers import MambaForCausalLM
    from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM
    from neuronspark.train import count_params, mamba_like as config_like
    c = NeuronSparkConfig.from_preset(preset)
    with torch.device('meta'): target = count_params(NeuronSparkForCausalLM(c))
    return MambaForCausalLM(config_like(target, c.vocab_size, c.num_hidden_layers, pad_token_id=c.pad_token_id,
                                        bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id, **fields))

def copy_task(model, lag:int, opt, steps:int, batch_size:int, seq_len:int, alphabet:int, seed:int, device, autocast,
              curriculum:bool=False, aux:bool=False, eval_rows:int=64) -> dict:
    "`delayed_copy` with a lag curriculum (1, 2, 4, ... < lag, then lag; equal shares of `steps`) or auxiliary shorter-lag heads."
    from neuronspark.gap import copy_loss, copy_rows
    g, ge = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 10_000)
    sched = [l for l in (1 << i for i in range(lag.bit_length())) if l < lag] + [lag] if curriculum else [lag]
    D = model.config.hidden_size
    heads = torch.nn.ModuleList(torch.nn.Linear(D, D) for _ in range(1, lag)).to(device) if aux else torch.nn.ModuleList()
    opt_h = torch.optim.AdamW(heads.parameters(), lr=1e-3) if aux and lag > 1 else None
    def logits_all(x):
        h, _, _ = model.stream(x)
        return model.decode(h), [model.decode(hd(h)) for hd in heads]
    model.train()
    for step in range(steps):
        cur = sched[min(step * len(sched) // steps, len(sched) - 1)]
        x = copy_rows(batch_size, seq_len, alphabet, g).to(device)
        with autocast():
            main, extra = logits_all(x)
            loss, _ = copy_loss(main, x, cur)
            if extra: loss = loss + sum(copy_loss(lg, x, j)[0] for j, lg in enumerate(extra, 1)) / len(extra)
        opt.zero_grad(set_to_none=True)
        if opt_h: opt_h.zero_grad(set_to_none=True)
        loss.backward(); opt.step()
        if opt_h: opt_h.step()
    model.eval()
    with torch.no_grad(), autocast():
        x = copy_rows(eval_rows, seq_len, alphabet, ge).to(device)
        _, acc = copy_loss(logits_all(x)[0], x, lag)
    return dict(acc=acc.item(), loss=loss.item(), chance=1 / alphabet)

def plif_screen(levels:int=1, reset_grad:bool=False, reset:bool=True):
    """`plif_ref` with spike counts 0..`levels`; with `reset_grad`, the reset's gradient kept; with `reset=False`, no reset
    at all (the membrane a leaky integrator of its input; reference loop, autograd)."""
    from neuronspark.plif import check_plif_args, spike_fn
    def scan(beta, u, theta, v0=None, alpha=4.0):
        beta, theta = check_plif_args(beta, u, theta, v0, fn='plif_screen')
        dt = torch.promote_types(u.dtype, torch.float32); T = u.shape[0]
        per_step = lambda p: p.to(dt).expand(u.shape if p.ndim == u.ndim else (T, *p.shape))
        v = torch.zeros(u.shape[1:], dtype=dt, device=u.device) if v0 is None else v0.to(dt).expand(u.shape[1:])
        ss, vs = [], []
        for b_t, u_t, th_t in zip(per_step(beta).unbind(0), u.unbind(0), per_step(theta).unbind(0)):
            v_pre = b_t * v + u_t.to(dt)
            s_t = sum(spike_fn(v_pre - k * th_t, alpha) for k in range(1, levels + 1))   # the count, a surrogate per level
            v = v_pre - th_t * (s_t if reset_grad else s_t.detach()) if reset else v_pre   # soft reset by n theta
            ss.append(s_t); vs.append(v)
        return torch.stack(ss), torch.stack(vs)
    return scan

def coupled_modulation(modulation):
    """`selective_modulation` with the drive tied to the decay as a Mamba's step size ties them: u_t is scaled by
    (1 - beta_t) / (1 - sigmoid(b_beta)), so a neuron that holds (beta_t up) also takes in less, and one that forgets takes
    in more; at the neuron's own baseline decay the factor is 1, as at initialisation."""
    def mod(r, b_beta, b_alpha, b_th, v_min=0.1):
        beta, u, theta = modulation(r, b_beta, b_alpha, b_th, v_min)
        return beta, u * (1 - beta) / (1 - torch.sigmoid(b_beta)), theta
    return mod

@contextlib.contextmanager
def screened(drive:str='free', **screen):
    """Inside the block the selective neurons run `plif_screen(**screen)` (and, with `drive='coupled'`,
    `coupled_modulation`), every operation on the reference path."""
    import neuronspark.selective as sel
    from neuronspark.plif import use_impl
    if not screen and drive == 'free': yield; return
    old = sel.plif_ref, sel.selective_modulation
    sel.plif_ref = plif_screen(**screen)
    if drive == 'coupled': sel.selective_modulation = coupled_modulation(old[1])
    try:
        with use_impl('reference'): yield
    finally: sel.plif_ref, sel.selective_modulation = old

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='tiny', help='SNN preset (the Llama is matched to its parameter count)')
    ap.add_argument('--arms', default='llama,snn,snn_memb,snn_ltau', help=f'comma-separated, from {list(ARMS)}')
    ap.add_argument('--lags', default='1,2,4,8', help='lags to probe, comma-separated (each < --seq_len)')
    ap.add_argument('--steps', type=int, default=300, help='training steps per (arm, lag)')
    ap.add_argument('--batch', type=int, default=16, help='rows per step')
    ap.add_argument('--seq_len', type=int, default=48, help='symbols per row')
    ap.add_argument('--alphabet', type=int, default=16, help='distinct symbols (chance = 1/alphabet)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--device', default='auto', help="'auto' (a GPU if there is one), 'cpu' or 'cuda'")
    ap.add_argument('--out', default=None, help='JSON file to write (merged into when it exists: reruns replace their entries)')
    a = ap.parse_args()
    from neuronspark.gap import delayed_copy
    from neuronspark.runs import autocast, resolve_device
    from neuronspark.train import RECIPES, OptimizerChain, TrainConfig, build_model, make_optimizer
    arms = [s.strip() for s in a.arms.split(',') if s.strip()]
    bad = [n for n in arms if n not in ARMS]
    if bad: ap.error(f'--arms: unknown {bad}; choose from {list(ARMS)}')
    try: lags = [int(x) for x in a.lags.split(',') if x.strip()]
    except ValueError: ap.error(f'--lags: comma-separated whole numbers, got {a.lags!r}')
    if not lags or any(not 1 <= l < a.seq_len for l in lags): ap.error(f'--lags: each must be in [1, --seq_len={a.seq_len}), got {lags}')
    dev = resolve_device(a.device)
    res = json.loads(Path(a.out).read_text()) if a.out and Path(a.out).is_file() else {}
    res.setdefault('arms', {})
    settings = dict(preset=a.preset, steps=a.steps, batch=a.batch, seq_len=a.seq_len, alphabet=a.alphabet, seed=a.seed)
    old = {k: v for k, v in res.get('settings', {}).items() if k in settings}
    if old and old != settings:                        # one file, one set of settings: its numbers are read as comparable
        ap.error(f'--out {a.out} holds runs with {old}; these settings are {settings}: write them to another file')
    res['settings'] = dict(settings, device=torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu', command=' '.join(sys.argv))
    for name in arms:
        arch, extra, screen, task = (*ARMS[name], {}, {})[:4]
        recipe = RECIPES['gap']['llama' if arch == 'mamba' else arch]
        recipe = {**recipe, 'neuron_lr_mult': 1.0, **{k: v for k, v in screen.items() if k in RECIPE_KEYS}}   # one rate for every group unless the arm says
        neuron_screen = {k: v for k, v in screen.items() if k not in REWIRE and k not in MODEL_REWIRE and k not in RECIPE_KEYS}
        for lag in lags:
            torch.manual_seed(a.seed)
            model = mamba_like(a.preset, **extra) if arch == 'mamba' else build_model(arch, a.preset, **({**recipe['config'], **extra} if arch == 'snn' else {}))
            for k, v in screen.items():
                if k in MODEL_REWIRE: MODEL_REWIRE[k](model, v)
                if k in REWIRE:
                    for layer in model.layers: REWIRE[k](layer, v, model.config)
            model = model.to(dev)
            if arch == 'mamba':     # Muon on its 2-D weight matrices (not the 3-D convolution, the decays A_log or the embedding), AdamW on the rest
                mats = [q for n, q in model.named_parameters() if q.ndim == 2 and 'embed' not in n and not n.endswith('A_log')]   # A_log: per-channel decays
                rest = [q for q in model.parameters() if all(q is not m for m in mats)]
                opt = OptimizerChain([torch.optim.Muon(mats, lr=recipe['lr'], adjust_lr_fn='match_rms_adamw'), torch.optim.AdamW(rest, lr=recipe['lr'], weight_decay=0.0)])
            else: opt = make_optimizer(model, TrainConfig(optimizer=recipe['optimizer'], lr=recipe['lr'], neuron_lr_mult=recipe['neuron_lr_mult'], weight_decay=0.0))
            t0 = time.time()
            train = (lambda *x, **k: copy_task(*x, **k, **task)) if task else delayed_copy
            with screened(**neuron_screen):
                r = train(model, lag, opt, steps=a.steps, batch_size=a.batch, seq_len=a.seq_len, alphabet=a.alphabet,
                          seed=a.seed, device=dev, autocast=lambda: autocast(dev))
            r['seconds'] = round(time.time() - t0, 1)
            res['arms'].setdefault(name, dict(arch=arch, config=extra, **({'screen': screen} if screen else {}), **({'task': task} if task else {}), acc={}))['acc'][str(lag)] = round(r['acc'], 4)
            print(f"{name:14s} lag {lag:3d}: accuracy {r['acc']:.3f} (chance {r['chance']:.3f}), last loss {r['loss']:.3f}, {r['seconds']:.0f} s", flush=True)
            if a.out:
                Path(a.out).parent.mkdir(parents=True, exist_ok=True)
                Path(a.out).write_text(json.dumps(res, indent=1) + '\n')          # after every run: a stopped probe keeps what it measured
    print('\naccuracy by lag')
    all_lags = sorted({int(l) for v in res['arms'].values() for l in v['acc']})
    print(f"{'arm':14s} " + ' '.join(f'{l:>6d}' for l in all_lags))
    for name, v in res['arms'].items():
        print(f'{name:14s} ' + ' '.join(f"{v['acc'][str(l)]:6.3f}" if str(l) in v['acc'] else f"{'-':>6}" for l in all_lags))
    if a.out: print(f'wrote {a.out}')

if __name__ == '__main__':
    main()
