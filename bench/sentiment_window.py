"""How far back does a fine-tuned model read? Ask chapter 8's held-out sentiment questions with each review cut to its
last N characters (N = 0: the whole review as in training) and print the accuracy per model and N.
    python bench/sentiment_window.py runs/s/snn_sft/final,runs/s/llama_sft/final --names snn,llama \\
        --chars 0,160,80,40,20,10 --out window.json
A model that uses only the end of a review keeps its accuracy as N shrinks; one that reads the whole review loses it."""
import json, time
from pathlib import Path
import torch
from fastcore.script import call_parse
from neuronspark.runs import load_lm, resolve_device
from neuronspark.sft import named_models, sentiment_eval, _heldout

@call_parse
def main(models:str,                          # fine-tuned model folders, comma-separated
         names:str=None,                      # display names, comma-separated (default: the folder names)
         chars:str='0,160,80,40,20,10',       # review endings to ask about, in characters (0: the whole review)
         n:int=0,                             # held-out reviews (0: all)
         heldout:str='out/sft/heldout.jsonl', # JSONL of held-out {"text", "label"} reviews; if missing: the packaged split
         batch:int=64, device:str='auto', precision:str='auto',
         out:str=None,                        # write {name: {N: accuracy}} plus per-label accuracies to this JSON file
        ):
    ns = [int(c) for c in chars.split(',')]
    dev = resolve_device(device)
    held, res = _heldout(heldout, n), {}
    for name, p, tok in named_models(models, names, fn='sentiment_window'):
        model, res[name] = load_lm(p, dev), {}
        for c in ns:
            t0 = time.time()
            r = sentiment_eval(model, tok, held, last_chars=c, batch_size=batch, precision=precision)
            res[name][c] = dict(accuracy=r['accuracy'], per_label=r['per_label'], other=r['other'], n=r['n'], majority=r['majority'])
            print(f'{name:>8} last {c or "all":>4} chars: accuracy {r["accuracy"]:.1%} (neg {r["per_label"]["neg"]:.1%}, '
                  f'pos {r["per_label"]["pos"]:.1%}, other {r["other"]}) on {r["n"]} reviews [{time.time() - t0:.0f} s]', flush=True)
        del model
    if out: Path(out).write_text(json.dumps(res, ensure_ascii=False, indent=1))
