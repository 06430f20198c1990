"""Run notebooks on a GPU machine and keep the outputs of their `#| gpu` cells in the notebooks.

  On the GPU machine:  python tools/gpu_exec.py run nbs/04_triton.ipynb [...] --out DIR [--slow] [--only ID,...] [--skip ID,...]
      executes every cell (except `#| eval: false`, and `#| slow` unless --slow) with nbdev's executor and writes
      DIR/<name>.ipynb with outputs, printing each failing cell's traceback; exit 1 if any cell failed. --only: of
      the `#| gpu` cells, run just these (cell ids), e.g. the one that changed, when the others take long; without a
      CUDA device no `#| gpu` cell runs (each keeps its stored output), so the same command refreshes a chapter's CPU
      outputs on a CPU machine. Prints each
      executed code cell's time as it ends, so a run cut off by a time limit still shows where the time went.
  Here:                python tools/gpu_exec.py merge DIR [names...] [--only ID,...]
      copies the outputs of the `#| gpu` cells of DIR/<name>.ipynb (with --only: of those cells) into
      nbs/<name>.ipynb (cells are matched by position and must have the same source); every other cell keeps its
      CPU outputs.
"""
import argparse, json, os, re, sys, time
from pathlib import Path

def flags(src: str) -> set:
    "nbdev cell directives of a cell, e.g. {'gpu'}, {'slow'}, {'eval: false'}."
    out = set()
    for l in src.splitlines():
        m = re.match(r'#\|\s*(.*)', l)
        if m: out.add(re.sub(r'\s+', ' ', m.group(1).strip().lower()))
    return out

def keep_stdout_of_quiet_cells():
    """execnb drops everything a cell printed when its last character is ';' (meant to hide the cell's value, as in
    Jupyter, which still shows the printed text): keep the text, and still hide the value (IPython does that itself)."""
    from execnb.shell import CaptureShell
    from fastcore.basics import AttrDict
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    def _run(self, raw_cell, store_history=False, silent=False, shell_futures=True, cell_id=None,
             stdout=True, stderr=True, display=True, verbose=False):
        with capture_output(display=display, stdout=stdout and not verbose, stderr=stderr and not verbose) as c:
            result = InteractiveShell.run_cell(self, raw_cell, store_history, silent, shell_futures=shell_futures, cell_id=cell_id)
        return AttrDict(result=result, stdout=c.stdout, stderr=c.stderr, display_objects=c.outputs,
                        exception=result.error_in_exec or result.error_before_exec, quiet=raw_cell.rstrip().endswith(';'))
    CaptureShell._run = _run

def run(nbs, out: Path, slow: bool, only=None, skip_ids=()) -> int:
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from execnb.shell import CaptureShell
    keep_stdout_of_quiet_cells()
    out = out.resolve()                          # before the chdir below: a relative --out is relative to where we started
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    import torch
    if only is None and not torch.cuda.is_available():
        only = set()                             # no GPU: the `#| gpu` cells keep their stored outputs (run, they would
        print('no CUDA device: #| gpu cells are skipped and keep their stored outputs', flush=True)   # become a note)
    for nb in map(Path, nbs):
        def skip(cell):
            f = flags(cell.source) if cell.cell_type == 'code' else set()
            skipped = 'eval: false' in f or ('slow' in f and not slow) or (only is not None and 'gpu' in f and cell.get('id') not in only) or cell.get('id') in skip_ids
            if cell.cell_type == 'code' and not skipped: cell.outputs = []   # the executor keeps old outputs of a silent cell
            t[0] = time.time()
            return skipped
        def timed(cell):                        # one line per executed code cell, as it ends: a run cut off by a time
            if cell.cell_type == 'code':        # limit still shows which cells took the time
                print(f'{nb.name} cell {cell.get("id")} {"gpu " if "gpu" in flags(cell.source) else ""}{time.time() - t[0]:.1f} s', flush=True)
        t = [time.time()]
        sh = CaptureShell(mpl_format='png')     # the notebooks' figures are stored at 1x (the executor's default is retina)
        cwd = os.getcwd(); os.chdir(nb.parent)  # the chapters read '../bench/results/...' relative to nbs/, as in JupyterLab
        try: sh.execute(nb.name, out / nb.name, preproc=skip, postproc=timed)
        finally: os.chdir(cwd)
        if sh.exc: print(sh.prettytb(fname=nb), flush=True)
        # the executor records a failing cell's traceback as an 'error' output and goes on (sh.exc stays empty): look for them
        errs = [c.get('id') for c in json.loads((out / nb.name).read_text())['cells']
                for o in c.get('outputs', []) if o.get('output_type') == 'error']
        for cid in errs: print(f'{nb}: cell {cid} raised (its traceback is in the output notebook)', flush=True)
        failed = bool(sh.exc or errs); bad += failed
        print(f'{"FAIL" if failed else "ok  "} {nb}', flush=True)
    return 1 if bad else 0

def merge(d: Path, names, only=None) -> int:
    names = names or [p.stem for p in d.glob('*.ipynb')]
    for n in names:
        src, dst = d / f'{n}.ipynb', Path('nbs') / f'{n}.ipynb'
        a, b = json.loads(src.read_text()), json.loads(dst.read_text())
        k = 0
        for ca, cb in zip(a['cells'], b['cells']):
            if cb['cell_type'] != 'code' or 'gpu' not in flags(''.join(cb['source'])): continue
            if only is not None and cb.get('id') not in only: continue
            if ''.join(ca['source']) != ''.join(cb['source']):
                print(f'{n}: a gpu cell changed since the GPU run, left as it was:\n{"".join(cb["source"])[:200]}'); continue
            cb['outputs'] = ca.get('outputs', []); k += 1
        dst.write_text(json.dumps(b, indent=1, ensure_ascii=False) + '\n')
        print(f'{dst}: {k} gpu cell(s) updated')
    return 0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run'); r.add_argument('nbs', nargs='+'); r.add_argument('--out', required=True); r.add_argument('--slow', action='store_true')
    r.add_argument('--skip', type=lambda s: set(s.split(',')), default=set(), help='cell ids not to run (e.g. long tests the GPU cells do not need)')
    m = sub.add_parser('merge'); m.add_argument('dir'); m.add_argument('names', nargs='*')
    for p in (r, m): p.add_argument('--only', type=lambda s: set(s.split(',')), default=None)
    a = ap.parse_args()
    sys.exit(run(a.nbs, Path(a.out), a.slow, a.only, a.skip) if a.cmd == 'run' else merge(Path(a.dir), a.names, a.only))
