"""How much of the token's K-bit code trained models use (chapter 7a): for each run folder's final model, the fraction of
(token, channel) codes that are one sign (`neuronspark.model.sign_only`: every frame after the first is its complement)
and the RMS of the embedding, over the whole vocabulary.

    python bench/code_spread.py runs/ab_cpu/recipe runs/ab_cpu/lr1e2 ... [--out FILE]
"""
import argparse, json
from pathlib import Path
from neuronspark.model import NeuronSparkForCausalLM, sign_only

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('runs', nargs='+', help='run folders of ns-pretrain (their final/ model is read)')
ap.add_argument('--out', help='JSON file to write: {run folder name: {sign_only, embedding_rms, encoder_norm}}')
a = ap.parse_args()
names = [Path(run).name for run in a.runs]
if len(set(names)) < len(names): ap.error(f'runs: the results are keyed by folder name, and these repeat: {names}')
res = {}
for run, name in zip(a.runs, names):
    final = Path(run) / 'final'
    if not (final / 'config.json').is_file(): ap.error(f'{run}: no final model in {final} (is the run finished?)')
    m = NeuronSparkForCausalLM.from_pretrained(final).eval()
    r = res[name] = dict(sign_only=round(sign_only(m), 4), embedding_rms=round(m.embed_tokens.weight.pow(2).mean().sqrt().item(), 4),
                         encoder_norm=m.config.encoder_norm)
    print(f"{run:32s} one-sign codes {r['sign_only']:6.1%}, embedding RMS {r['embedding_rms']:.3f}", flush=True)
if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
