"""How many sweeps an exact parallel-in-time PLIF scan needs (chapter 9, "A long prompt").

    python bench/fixed_point_scan.py [--preset tiny] [--tokens 256] [--max_sweeps 300] [--run RUN_FOLDER]

The scheme: guess every frame's spike (none at first), run the membrane recurrence with those resets fixed (linear,
so a parallel scan could compute it), recompute the spikes from the membranes, and repeat until no spike changes; the
fixed point is exactly the sequential scan. Here the linear part runs as a plain loop in the reference's order, so
the sweep count is the scheme's own, not a rounding effect. The selective neurons' inputs of every layer are taken from
a forward pass over the first `--tokens` tokens of the validation text (`out/data/val.jsonl`, made by
`ns-prepare-data`), with random weights (the preset) or a trained model (`--run`). Prints, per layer, the share of
neurons that still hold a wrong spike after 1, 2, 4, ... sweeps, and whether it became exact. CPU, about a minute.
"""
import argparse, json
from pathlib import Path
import torch

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='tiny', help="model size with random weights ('tiny', 'small', 'v75'); ignored with --run")
    ap.add_argument('--run', default=None, help='a trained model folder (what ns-pretrain leaves) instead of random weights')
    ap.add_argument('--tokens', type=int, default=256, help='prompt length in tokens (frames = tokens x K)')
    ap.add_argument('--max_sweeps', type=int, default=300, help='give up after this many sweeps')
    ap.add_argument('--data', default='out/data/val.jsonl', help='JSONL with a "text" field per line')
    a = ap.parse_args()
    import neuronspark.selective as sel
    from neuronspark.model import NeuronSparkConfig, NeuronSparkForCausalLM
    from neuronspark.plif import plif_ref, use_impl
    from neuronspark.tokenizer import load_tokenizer
    if not Path(a.data).is_file(): ap.error(f'--data {a.data} not found: run ns-prepare-data first')
    torch.manual_seed(0)
    if a.run:
        from neuronspark.runs import load_run
        model, tok = load_run(a.run, device='cpu')
    else: model, tok = NeuronSparkForCausalLM(NeuronSparkConfig.from_preset(a.preset)), load_tokenizer()
    model = model.float().eval()
    text = ''.join(json.loads(l)['text'] for l in open(a.data, encoding='utf-8').readlines()[:50])
    ids = torch.tensor([tok(text)['input_ids'][:a.tokens]])
    caught, orig = [], sel.plif_ref
    def record(beta, u, theta, v0=None, alpha=4.0):
        caught.append((beta.detach(), u.detach(), theta.detach())); return orig(beta, u, theta, v0, alpha)
    sel.plif_ref = record
    try:
        with torch.no_grad(), use_impl('reference'): model(input_ids=ids)
    finally: sel.plif_ref = orig
    def membranes(beta, u, theta, s):                 # the recurrence with the resets of the guessed spikes s
        v, pre = torch.zeros_like(u[0]), []
        for t in range(u.shape[0]):
            p = beta[t] * v + u[t]; pre.append(p); v = p - theta[t] * s[t]
        return torch.stack(pre)
    marks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= a.max_sweeps]
    print(f'{ids.shape[1]} tokens; share of neurons with a wrong spike after ' + ', '.join(map(str, marks)) + ' sweeps')
    for li, (beta, u, theta) in enumerate(caught):
        beta, theta = beta.expand_as(u), theta.expand_as(u)
        want, _ = plif_ref(beta, u, theta)
        s, wrong = torch.zeros_like(u), []
        for sweep in range(1, a.max_sweeps + 1):
            new = (membranes(beta, u, theta, s) - theta > 0).to(u.dtype)
            wrong.append((new != want).flatten(1).any(0).float().mean().item())
            if torch.equal(new, s): break
            s = new
        done = torch.equal(s, want)
        print(f'layer {li}: {u.shape[0]} frames, {u[0].numel()} neurons, spike rate {want.mean():.3f}: '
              + ', '.join(f'{wrong[k - 1] if k <= len(wrong) else 0.0:.2f}' for k in marks)
              + (f'; exact after {len(wrong)} sweeps' if done else f'; not exact after {a.max_sweeps}'), flush=True)

if __name__ == '__main__': main()
