"""The "closing the gap" experiments (chapter 7a): pretraining arms of the small SNN and its matched Llama, run on one
GPU in stages that each fit one 10-minute call, every result merged into one JSON file that the chapter reads.

    python bench/gap.py STAGE [--out runs/gap] [--results bench/results/gap_h200.json] [--budget_s 540] [--lanes 3]
    python bench/gap.py --list                    # the stages and their arms

Every arm is `ns-pretrain --recipe v75` (bench/pretrain.py) on the embedded corpus with the same data, seed, sequence
length (256) and batch (32 rows) unless its flags say otherwise: the arm's flags are everything it changes. Arms run `--lanes` at a time (the
small models leave a GPU mostly idle); an arm with a teacher starts once its teacher arm has finished and distils from
its final model. Every arm gets `--minutes` = what is left of `--budget_s`, so a stage always ends inside its call (an arm
stopped that way is marked `stopped_early`). When the arms are done, each final model's validation loss is broken down
by position and by token frequency (`neuronspark.gap.loss_breakdown`).

The results file keeps every arm ever run (a rerun of an arm replaces it), plus the summary the issue asks for:
`tokens`, `snn_val`, `llama_val` (the best validation losses, each model on its best recipe within `--max_tokens`,
averaged over the seeds that recipe ran with), `snn_recipe`, `llama_recipe` (the arms, flags and per-seed losses),
`seeds`.
"""
import argparse, json, os, re, shlex, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNN_BEST = ('--optimizer muon --neuron_lr_mult 10 '
            '--config prenorm=True,center_residual=True,selective_init=v75b,surrogate_alpha=2.0')
SNN_CFG = 'prenorm=True,center_residual=True,selective_init=v75b'
SNN_MEMB = SNN_BEST.replace('--config ', '--config hidden_readout=membrane,')   # one --config (a second would replace the first)
SNN_READ = SNN_BEST.replace('--config ', '--config block_read=selective,')      # chapter 5's selective read
SNN_ENC = SNN_BEST.replace('--config ', '--config encoder_norm=True,')          # chapter 6's normalised encoder input
LLAMA = '--arch llama --optimizer muon --lr 3e-3'
SCREEN = '--continuous_inputs'   # bench/pretrain.py's screen: not a spiking model, so never the summary's SNN, and no breakdown

# name: (steps, flags, teacher arm or None)
STAGES = {
    'screen': {   # 1000 steps x 32 x 256 = 8.2M tokens: the levers one at a time on the previous best recipe
        'llama_muon': (1000, LLAMA, None),
        'snn_best': (1000, SNN_BEST, None),
        'snn_lion': (1000, f'--optimizer muon --neuron_optimizer lion --neuron_lr_mult 0.3 --config {SNN_CFG},surrogate_alpha=2.0', None),
        'snn_a1': (1000, f'--optimizer muon --neuron_lr_mult 10 --config {SNN_CFG},surrogate_alpha=1.0', None),
        'snn_kd5': (1000, SNN_BEST + ' --kd_weight 0.5', 'llama_muon'),
        'snn_kd9': (1000, SNN_BEST + ' --kd_weight 0.9', 'llama_muon'),
    },
    'kd': {       # distillation pushed further (pure KD, a softer teacher) and the longer plan (2000 steps, 16.4M tokens)
        'llama_muon': (1000, LLAMA, None),
        'snn_best_2k': (2000, SNN_BEST, None),
        'snn_kd9_2k': (2000, SNN_BEST + ' --kd_weight 0.9', 'llama_muon'),
        'snn_kd10': (1000, SNN_BEST + ' --kd_weight 1.0', 'llama_muon'),
        'snn_kd9t2': (1000, SNN_BEST + ' --kd_weight 0.9 --kd_temperature 2', 'llama_muon'),
    },
    'long': {     # the best recipe at 3000 steps (24.6M tokens, inside the 30M budget), alone on the GPU after its teacher
        'llama_muon': (1000, LLAMA, None),
        'snn_kd9_3k': (3000, SNN_BEST + ' --kd_weight 0.9', 'llama_muon'),
    },
    'lever': {    # the learning rate (the Llama's best Muon rate is 3x the SNN's so far), and longer timescales for memory
        'llama_muon': (1000, LLAMA, None),
        'snn_lr2': (1000, SNN_BEST + ' --lr 2e-3', None),
        'snn_lr3': (1000, SNN_BEST + ' --lr 3e-3', None),
        'snn_lr3n': (1000, SNN_BEST + ' --lr 3e-3 --neuron_lr_mult 3.33', None),   # neurons keep their rate (1e-2)
        'snn_ltau': (1000, SNN_BEST.replace('selective_init=v75b', 'selective_init=v75b_long'), None),
        'snn_kd9_lr3': (1000, SNN_BEST + ' --lr 3e-3 --kd_weight 0.9', 'llama_muon'),
    },
    'final': {    # the best recipe on the whole 30M-token budget (3,600 steps x 8,192 tokens), alone after its teacher: ~9 minutes
        'llama_muon': (1000, LLAMA, None),
        'snn_kd9_3600': (3600, SNN_BEST + ' --lr 2e-3 --kd_weight 0.9', 'llama_muon'),
    },
    'ablate': {   # what each part of the recipe is worth at 1000 steps, and the Llama's own best plan length
        'snn_v75': (1000, '', None),
        'snn_muon_only': (1000, '--optimizer muon', None),
        'snn_muon_c': (1000, f'--optimizer muon --config {SNN_CFG}', None),
        'llama_adamw': (1000, '--arch llama', None),
        'llama_750': (750, LLAMA, None),
    },
    'membrane': { # lever 4: W_out reads the selective neurons' membrane before the reset instead of their spikes
        'llama_muon': (1000, LLAMA, None),
        'snn_best': (1000, SNN_BEST, None),
        'snn_memb': (1000, SNN_MEMB, None),
        'snn_memb_kd9': (1000, SNN_MEMB + ' --kd_weight 0.9', 'llama_muon'),
    },
    'shape': {    # where the parameters go, at the same count (23.0M +-5%): a wider state (D x N per layer), or depth
        'llama_muon': (1000, LLAMA, None),
        'snn_state16': (1000, SNN_BEST.replace('--config ', '--config hidden_size=192,n_groups=16,'), None),   # 0.99x params, 1.5x state
        'snn_deep10': (1000, SNN_BEST.replace('--config ', '--config n_groups=4,num_hidden_layers=10,'), None), # 1.05x params, 0.83x state
        'snn_memb_ltau': (1000, SNN_MEMB.replace('selective_init=v75b', 'selective_init=v75b_long'), None),    # long timescales, read directly
    },
    'frames': {   # more frames per token: the same tokens, twice the frames (and about twice the step time)
        'snn_k16': (1000, SNN_BEST.replace('--config ', '--config k_frames=16,'), None),
    },
    'read': {     # chapter 5's selective read (W_out weighs each timescale group by a weight from the input, as a Mamba reads
                  # its state through C_t) and a rate of 1e-2 for every group: on the CPU probe the read is worth 16-19 points
                  # at 1e-2 and nothing at 1e-3; on the tiny preset's language, 1e-2 is worth 0.33 nats at 600 steps.
                  # On the small preset (H200) neither transfers: 1000 steps give recipe 5.980, read 6.069, 1e-2 6.239,
                  # read + 1e-2 6.382 (1e-2 leads at step 100, then falls half as fast; with the read it climbs back at 200-400).
                  # The recipe itself (snn_best) and the Llama are the 'membrane' and 'shape' stages' arms.
        'snn_lr10': (1000, SNN_BEST + ' --lr 1e-2 --neuron_lr_mult 1', None),
        'snn_read_lr10': (1000, SNN_READ + ' --lr 1e-2 --neuron_lr_mult 1', None),
        'snn_read': (1000, SNN_READ, None),
    },
    'inputs': {   # the ceiling of a finer input code: every sublayer reads the normalised stream itself, not its input
                  # neurons' spikes (bench/pretrain.py --continuous_inputs, a screen); 0.05 nats on the tiny model (CPU), where
                  # no spikes at all (--analog_spikes) is 0.12 worse and the Llama 1.0 ahead
        'snn_cin': (1000, SNN_BEST + ' ' + SCREEN, None),
    },
    'mamba': {    # the recurrent anchor without spikes (ns-pretrain --arch mamba, the Llama's recipe): on the tiny model's
                  # language (CPU) it closes 0.59 of the spiking model's 1.0-nat gap to the Llama
        'mamba_muon': (1000, '--arch mamba --optimizer muon --lr 3e-3', None),
    },
    'code': {     # chapter 6's encoder_norm (the embedding RMS-normalised before the encoder): on the tiny model's language
                  # (CPU, 600 steps) 0.37 nats at 1e-3 and 0.60 at 1e-2, where a Mamba mixer in place of the block and
                  # wider shapes changed nothing; here at the recipe's rate and two higher ones (the recipe and the Llama
                  # are the 'membrane' stage's arms)
        'snn_enc': (1000, SNN_ENC, None),
        'snn_enc_lr2': (1000, SNN_ENC + ' --lr 2e-3', None),
        'snn_enc_lr3': (1000, SNN_ENC + ' --lr 3e-3', None),
    },
    'final_code': {  # the final plan (3,600 steps, distilled) with encoder_norm at the rate the 'code' stage found best
        'llama_muon': (1000, LLAMA, None),
        'snn_enc_kd9_3600': (3600, SNN_ENC + ' --lr 3e-3 --kd_weight 0.9', 'llama_muon'),
    },
    'seeds': {    # the finalists ('final_code') again with seed 1: teacher and student
        'llama_muon_s1': (1000, LLAMA + ' --seed 1', None),
        'snn_enc_kd9_3600_s1': (3600, SNN_ENC + ' --lr 3e-3 --kd_weight 0.9 --seed 1', 'llama_muon_s1'),
    },
}

def arm_cmd(name, steps, flags, out, teacher_dir, minutes, smoke=False):
    size = ['--preset', 'tiny', '--seq_len', '64', '--batch', '2', '--eval_batches', '2'] if smoke else ['--preset', 'small', '--seq_len', '256', '--batch', '32', '--eval_batches', '10']
    cmd = [sys.executable, 'bench/pretrain.py', *size, '--recipe', 'v75', '--lr', '1e-3',   # an arm's flags say all it changes
           '--steps', str(3 if smoke else steps), '--eval_every', str(1 if smoke else max(1, steps // 10)), '--log_every', '1' if smoke else '10',
           '--save_every', '0', '--samples', '0', '--no-progress', '--out', str(out / name), '--minutes', f'{minutes:.2f}']
    cmd += shlex.split(flags)                                   # later flags win (argparse): an arm may override --lr
    if teacher_dir is not None: cmd += ['--teacher', str(teacher_dir)]
    return cmd

def run_stage(stage, out, budget_s, lanes, smoke=False):
    "Run a stage's arms, at most `lanes` at once, teachers before their students; return {name: (returncode, seconds)}."
    arms, t0 = STAGES[stage], time.time()
    pending, running, done = dict(arms), {}, {}
    while pending or running:
        for name, (p, t_start, log) in list(running.items()):
            if p.poll() is not None:
                log.close(); done[name] = (p.returncode, time.time() - t_start); del running[name]
                print(f'[gap] {name}: exit {p.returncode} after {done[name][1]:.0f} s', flush=True)
        for name, (steps, flags, teacher) in list(pending.items()):
            if len(running) >= lanes: break
            if teacher is not None and teacher not in done:
                if teacher in pending or teacher in running: continue
                if not (out / teacher / 'final').is_dir():
                    print(f'[gap] {name}: teacher {teacher} is not part of this stage and {out / teacher / "final"} is missing; skipped')
                    del pending[name]; continue
            if teacher is not None and (teacher in done and done[teacher][0] != 0):
                print(f'[gap] {name}: teacher {teacher} failed; skipped'); del pending[name]; continue
            left = budget_s - (time.time() - t0) - (0 if smoke else 45)               # validation + save + the breakdown after the stop
            if left < (0 if smoke else 60): print(f'[gap] {name}: not started, {left:.0f} s left'); del pending[name]; continue
            cmd = arm_cmd(name, steps, flags, out, None if teacher is None else out / teacher / 'final', left / 60, smoke)
            log = open(out / f'{name}.log', 'w')
            running[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), time.time(), log)
            del pending[name]
            print(f'[gap] {name}: started ({steps} steps, {flags}{", teacher " + teacher if teacher else ""})', flush=True)
        time.sleep(2)
    return done

def breakdowns(names, out, smoke=False):
    "loss_breakdown of every arm's final model on the validation rows (GPU if there is one)."
    import numpy as np, torch
    from neuronspark.data import PretrainDataset
    from neuronspark.runs import autocast, load_lm, resolve_device
    from neuronspark.gap import loss_breakdown
    from neuronspark.train import count_params
    from neuronspark.tokenizer import load_tokenizer
    tok = load_tokenizer(); dev = resolve_device('auto')
    counts = np.bincount(np.asarray(PretrainDataset(ROOT / 'out/data/train.jsonl', tok, 256).tokens, dtype=np.int64), minlength=len(tok))
    val = PretrainDataset(ROOT / 'out/data/val.jsonl', tok, 64 if smoke else 256)
    res = {}
    for n in names:
        f = out / n / 'final'
        if not f.is_dir(): continue
        m = load_lm(f, dev)
        res[n] = loss_breakdown(m, val, counts, batch_size=2 if smoke else 32, batches=2 if smoke else 10, device=dev, autocast=lambda: autocast(dev))
        res[n]['params'] = count_params(m)                                          # arms may change the model's shape
        del m
    return res

def collect(name, steps, flags, teacher, out, rc_s, gpu, stage):
    "One arm's record from its metrics log."
    recs = [json.loads(l) for l in (out / name / 'metrics.jsonl').read_text().splitlines() if l.strip()] if (out / name / 'metrics.jsonl').exists() else []
    val = [r for r in recs if r['kind'] == 'val']; tr = [r for r in recs if r['kind'] == 'train']
    best = min(val, key=lambda r: r['val_loss']) if val else None
    log = (out / f'{name}.log').read_text(errors='replace') if (out / f'{name}.log').exists() else ''
    return dict(stage=stage, gpu=gpu, arch='screen' if SCREEN in flags else flags.split('--arch ')[1].split()[0] if '--arch ' in flags else 'snn', flags=flags, teacher=teacher,
                steps_planned=steps, steps=max([r['step'] for r in tr[-1:] + val[-1:]], default=0),   # a --minutes stop validates after its last log
                tokens=tr[-1]['tokens'] if tr else 0,
                returncode=rc_s[0], seconds=round(rc_s[1], 1), stopped_early='stopped by --minutes' in log,
                val={r['step']: round(r['val_loss'], 4) for r in val}, val_tokens={r['step']: r['tokens'] for r in val},
                best_val=round(best['val_loss'], 4) if best else None, best_step=best['step'] if best else None,
                best_tokens=best['tokens'] if best else None,
                grad_norm=[round(r['grad_norm'], 3) for r in tr[::10]], tok_s=round(sum(r['tok_s'] for r in tr[-10:]) / max(1, len(tr[-10:]))) if tr else None,
                error=log.strip().splitlines()[-1][:300] if rc_s[0] != 0 and log.strip() else None)

def seed_of(flags): return int(re.search(r'--seed\s+(\d+)', flags).group(1)) if '--seed' in flags else 0
def unseeded(flags): return re.sub(r'\s*--seed\s+\d+', '', flags).strip()

def summarize(res, max_tokens):
    """The issue's goal fields: each model's best recipe within the token budget. A recipe is an arm's flags without
    its seed, and its plan length; its loss is the mean of its arms' best validation losses over the seeds it ran with."""
    groups = {}
    for n, a in res['arms'].items():
        if a['best_val'] is not None and a['best_tokens'] <= max_tokens:
            groups.setdefault((a['arch'], a['steps_planned'], unseeded(a['flags'])), []).append(n)
    def best(arch):
        c = [(round(statistics.fmean(res['arms'][n]['best_val'] for n in names), 4), names) for k, names in groups.items() if k[0] == arch]
        return min(c) if c else (None, None)
    def recipe(names):
        a = res['arms'][names[0]]
        return dict(arms=names, flags=unseeded(a['flags']), teacher=a['teacher'], steps=a['steps_planned'],
                    seeds={seed_of(res['arms'][n]['flags']): {k: res['arms'][n][k] for k in ('best_val', 'best_step', 'steps')} | {'arm': n}
                           for n in names})
    (sv, sn), (lv, ln) = best('snn'), best('llama')
    res.update(tokens=max_tokens, snn_val=sv, llama_val=lv, ratio=round(sv / lv, 4) if sv and lv else None,
               snn_recipe=sn and recipe(sn), llama_recipe=ln and recipe(ln),
               seeds=sorted({seed_of(a['flags']) for a in res['arms'].values()}))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('stage', nargs='?', choices=list(STAGES), help='which stage to run')
    ap.add_argument('--out', default='runs/gap', help='folder of the arms\' runs')
    ap.add_argument('--results', default=None, help='results JSON to merge into (default bench/results/gap_<gpu>.json)')
    ap.add_argument('--budget_s', type=float, default=540, help='wall-clock budget of the whole stage, seconds')
    ap.add_argument('--lanes', type=int, default=3, help='arms running at once')
    ap.add_argument('--max_tokens', type=int, default=30_000_000, help='token budget of the goal summary')
    ap.add_argument('--list', action='store_true', help='print the stages and exit')
    ap.add_argument('--smoke', action='store_true', help='3 steps of the tiny preset per arm (checks the script on a CPU)')
    a = ap.parse_args()
    if a.list or a.stage is None:
        for s, arms in STAGES.items():
            print(s); [print(f'  {n:12s} {st:5d} steps  {fl}{"  teacher " + t if t else ""}') for n, (st, fl, t) in arms.items()]
        return
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'
    tag = 'cpu' if gpu == 'cpu' else gpu.split()[1].lower() if gpu.startswith('NVIDIA') else gpu.split()[0].lower()
    results = Path(a.results or ROOT / f'bench/results/gap_{tag}.json')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if not (ROOT / 'out/data/train.jsonl').exists():
        from neuronspark.data import prepare_data
        prepare_data(ROOT / 'out/data')
    t0 = time.time()
    done = run_stage(a.stage, out, a.budget_s, a.lanes, a.smoke)
    res = json.loads(results.read_text()) if results.exists() else dict(arms={})
    for n, rc_s in done.items():
        steps, flags, teacher = STAGES[a.stage][n]
        res['arms'][n] = collect(n, steps, flags, teacher, out, rc_s, gpu, a.stage)
    try:
        for n, b in breakdowns([n for n in done if SCREEN not in STAGES[a.stage][n][1]], out, a.smoke).items():   # a screen's model loads back unscreened
            res['arms'][n]['breakdown'] = {k: [round(x, 4) for x in v] if isinstance(v, list) else v for k, v in b.items()}
    except Exception as e: print(f'[gap] breakdown failed: {e!r}')
    summarize(res, a.max_tokens)
    results.parent.mkdir(parents=True, exist_ok=True); results.write_text(json.dumps(res, indent=1))
    print(f'\n[gap] stage {a.stage} on {gpu} in {time.time() - t0:.0f} s -> {results}')
    for n in done:
        r = res['arms'][n]; b = r.get('breakdown', {})
        print(f"{n:12s} {r['arch']:5s} steps {r['steps']:5d}/{r['steps_planned']} best {r['best_val']} @ {r['best_step']} "
              f"last {list(r['val'].values())[-1] if r['val'] else None} tok/s {r['tok_s']} {'EARLY' if r['stopped_early'] else ''}"
              f"{' params ' + format(b['params'], ',') if 'params' in b else ''}{' buckets ' + str(b.get('bucket_loss')) if b else ''}{' ERR ' + r['error'] if r['error'] else ''}")
    print(f"summary: snn {res['snn_val']} llama {res['llama_val']} ratio {res['ratio']}")

if __name__ == '__main__':
    main()
