"""Run every notebook's tests (nbdev's own executor) and print a closing `N passed, N failed` line.

Usage: python tools/run_tests.py [--flags "gpu slow"] [--n_workers 2] [notebooks...]
Each notebook is one test: it passes when all its cells run without error (its `test_*` assertions included).
Cells marked `#| slow` / `#| gpu` run only when their flag is given; `#| eval: false` cells never run.
"""
import argparse, multiprocessing, os, shutil, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

def _run(path, flags):
    os.environ['IN_TEST'] = '1'
    # one thread per notebook: n_workers notebooks on as many cores, instead of each torch taking every core
    for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(v, '1')
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from nbdev.config import get_config
    from nbdev.test import test_nb
    cfg = get_config()
    skip = [f for f in cfg.tst_flags.split() if f not in flags]
    t0 = time.time()
    import io, contextlib
    err = io.StringIO()
    # the notebook's temporary files (models, runs, checkpoints: hundreds of MB for some chapters) go to a folder of its
    # own, removed when it ends, so that repeated test runs do not fill the disk; subprocesses inherit TMPDIR
    tmp = tempfile.mkdtemp(prefix=f'nbtest_{Path(path).stem}_')
    os.environ['TMPDIR'], tempfile.tempdir = tmp, None
    try:
        with contextlib.redirect_stderr(err):
            ok, _ = test_nb(path, skip_flags=skip, force_flags=flags, do_print=False, showerr=True, basepath=cfg.config_path)
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return path, ok, time.time() - t0, err.getvalue()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', help='notebooks to test (default: all in nbs/ not starting with _ or .)')
    ap.add_argument('--flags', default='', help='test flags to enable, e.g. "slow gpu"')
    ap.add_argument('--n_workers', type=int, default=2)
    a = ap.parse_args()
    nbs = [Path(p) for p in a.notebooks] or sorted(p for p in Path('nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
    flags = a.flags.split()
    passed, failed, t0 = 0, [], time.time()
    # a fresh interpreter per notebook: no state (imports, env vars such as TRITON_INTERPRET, IPython's __main__)
    # leaks from one chapter into the next
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(a.n_workers, mp_context=ctx, max_tasks_per_child=1) as ex:
        for path, ok, dt, err in ex.map(_run, nbs, [flags] * len(nbs)):
            print(f'{"PASS" if ok else "FAIL"}  {path.name:<28} {dt:6.1f}s', flush=True)
            if ok: passed += 1
            else: failed.append(path.name); print(err[-4000:], file=sys.stderr, flush=True)
    print(f'notebooks tested in {time.time() - t0:.0f}s' + (f'; failed: {", ".join(failed)}' if failed else ''))
    print(f'{passed} passed, {len(failed)} failed')
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
