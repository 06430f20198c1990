"""Run notebooks on a GPU machine and keep the outputs of their `#| gpu` cells in the notebooks.

  On the GPU machine:  python tools/gpu_exec.py run nbs/04_triton.ipynb [...] --out DIR [--slow]
      executes every cell (except `#| eval: false`, and `#| slow` unless --slow) with nbdev's executor and writes
      DIR/<name>.ipynb with outputs, printing each failing cell's traceback; exit 1 if any cell failed.
  Here:                python tools/gpu_exec.py merge DIR [names...]
      copies the outputs of the `#| gpu` cells of DIR/<name>.ipynb into nbs/<name>.ipynb (cells are matched by
      position and must have the same source); every other cell keeps its CPU outputs.
"""
import argparse, json, os, re, sys
from pathlib import Path

def flags(src: str) -> set:
    "nbdev cell directives of a cell, e.g. {'gpu'}, {'slow'}, {'eval: false'}."
    out = set()
    for l in src.splitlines():
        m = re.match(r'#\|\s*(.*)', l)
        if m: out.add(re.sub(r'\s+', ' ', m.group(1).strip().lower()))
    return out

def run(nbs, out: Path, slow: bool) -> int:
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from execnb.shell import CaptureShell
    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for nb in map(Path, nbs):
        def skip(cell):
            f = flags(cell.source) if cell.cell_type == 'code' else set()
            skipped = 'eval: false' in f or ('slow' in f and not slow)
            if cell.cell_type == 'code' and not skipped: cell.outputs = []   # the executor keeps old outputs of a silent cell
            return skipped
        sh = CaptureShell(mpl_format='png')     # the notebooks' figures are stored at 1x (the executor's default is retina)
        sh.execute(nb, out / nb.name, preproc=skip)
        if sh.exc: bad += 1; print(sh.prettytb(fname=nb), flush=True)
        print(f'{"FAIL" if sh.exc else "ok  "} {nb}', flush=True)
    return 1 if bad else 0

def merge(d: Path, names) -> int:
    names = names or [p.stem for p in d.glob('*.ipynb')]
    for n in names:
        src, dst = d / f'{n}.ipynb', Path('nbs') / f'{n}.ipynb'
        a, b = json.loads(src.read_text()), json.loads(dst.read_text())
        k = 0
        for ca, cb in zip(a['cells'], b['cells']):
            if cb['cell_type'] != 'code' or 'gpu' not in flags(''.join(cb['source'])): continue
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
    m = sub.add_parser('merge'); m.add_argument('dir'); m.add_argument('names', nargs='*')
    a = ap.parse_args()
    sys.exit(run(a.nbs, Path(a.out), a.slow) if a.cmd == 'run' else merge(Path(a.dir), a.names))
