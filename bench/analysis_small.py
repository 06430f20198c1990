"""Chapter 10 on the GPU-trained `small` preset: firing rates and sparsity by population, neurons that never fired,
decays by timescale group, validation loss / bits per character, and energy per token next to the matched Llama.

Run on the GPU machine right after `bash bench/pretrain_gpu.sh single runs/gpu` (which leaves runs/gpu/*/final/):
    PYTHONPATH=. python bench/analysis_small.py runs/gpu/snn_small/final --llama runs/gpu/llama_small/final \
        --data out/data/val.jsonl --seq_len 512 --out bench/results/analysis_small.json
Prints the report as JSON on stdout (human-readable tables on stderr) and writes it to --out, which the chapter
(nbs/10_analysis.ipynb, last section) reads. Needs torch, transformers, tokenizers, safetensors, fastcore, tqdm;
not spikingjelly.
"""
import json, sys, time
from pathlib import Path
import torch
from fastcore.script import call_parse
from neuronspark.analysis import analyze, format_table, quality_table

@call_parse
def main(snn:str,                            # trained NeuronSpark checkpoint (final/ or a run folder)
         llama:str=None,                     # the matched Llama checkpoint trained on the same tokens
         data:str='out/data/val.jsonl',      # evaluation text
         seq_len:int=512,                    # the training runs' sequence length
         batch:int=8,                        # rows per batch
         max_batches:int=0,                  # 0: the whole file
         device:str='auto',
         precision:str='auto',               # auto: bf16 autocast on CUDA, as the training loop validates
         out:str='bench/results/analysis_small.json',  # where to write the report ('' for nowhere)
        ):
    "Measure the chapter-10 numbers of a trained SNN (and its matched Llama) and print them as JSON."
    t0 = time.time()
    rep = analyze(snn, llama, data, seq_len=seq_len, batch_size=batch, max_batches=max_batches, device=device, precision=precision, progress=True)
    rep['meta'] = dict(device=torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', torch=torch.__version__,
                       seconds=round(time.time() - t0, 1), command=' '.join(['python', *sys.argv]))
    err = sys.stderr
    print(format_table(quality_table(rep), digits=4), file=err)
    print(format_table([dict(r, dead=rep['dead'][r['population']]) for r in rep['rates']['population']],
                       ['population', 'rate', 'sparsity', 'dead']), file=err)
    print(f"overall sparsity {rep['rates']['overall']['sparsity']:.4f}", file=err)
    if 'energy' in rep: print(format_table(rep['energy']), file=err)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(rep, indent=1))
        print(f'wrote {out}', file=err)
    print(json.dumps(rep))
