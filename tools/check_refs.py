"""Every committed file under bench/results/ and nbs/logs/ must be read or named by a chapter, a bench script or a tool.

  python tools/check_refs.py          # lists the unreferenced files; exit 1 if there are any

A file counts as referenced when one of these names it (outputs of notebook cells do not count, only their sources):
nbs/*.ipynb, bench/ (outside bench/results/), tools/ (outside this file). A top-level file may be named by its file
name alone (`'train_h100.json'`, as a chapter passes it to a helper that adds the folder); a file in a sub-folder by
its path from `results/` or `logs/` on (`logs/sft_gpu/snn_pre/metrics.jsonl`), or through any folder above it
(`logs/sft_gpu`, `bench/results/pretrain_gpu/`): a folder referenced as a whole counts for all of its files. Globs and
names built at run time (`f'{kind}_{gpu}.json'`) do not count: a chapter that reads a file names it.
"""
import json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRS = {'bench/results': 'results/', 'nbs/logs': 'logs/'}   # checked folder -> the prefix a nested reference carries

def tracked(*paths) -> list:
    "Files git tracks under `paths` (so build outputs and scratch files are neither checked nor read)."
    out = subprocess.run(['git', 'ls-files', '-z', '--', *paths], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [p for p in out.split('\0') if p]

def corpus() -> str:
    "The text of everything that may reference a results file: notebook sources, bench scripts, tools."
    texts = []
    for p in tracked('nbs', 'bench', 'tools'):
        if p.startswith(tuple(d + '/' for d in DIRS)) or p == 'tools/check_refs.py': continue
        f = ROOT / p
        if p.endswith('.ipynb'):
            texts += [''.join(c['source']) for c in json.loads(f.read_text())['cells']]
        elif f.suffix in ('.py', '.sh', '.md', '.txt', '.js', '.yml', '.toml', '.cfg', '') and f.is_file():
            try: texts.append(f.read_text())
            except UnicodeDecodeError: pass
    return '\n'.join(texts)

def named(text: str, name: str) -> bool:
    "`name` occurs in `text` as a whole path component sequence (not inside a longer name such as `x_final`)."
    return re.search(r'(?<![\w.-])' + re.escape(name) + r'(?![\w.-])', text) is not None

def unreferenced() -> list:
    text = corpus()
    bad = []
    for d, prefix in DIRS.items():
        for p in tracked(d):
            rel = p[len(d) + 1:]                          # e.g. train_h100.json, sft_gpu/snn_pre/metrics.jsonl
            parts = rel.split('/')
            if len(parts) == 1: ok = named(text, rel)
            else: ok = any(named(text, prefix + '/'.join(parts[:i])) for i in range(1, len(parts) + 1))
            if not ok: bad.append(p)
    return bad

if __name__ == '__main__':
    bad = unreferenced()
    for p in bad: print('  - not referenced by any chapter, bench script or tool:', p)
    n = sum(len(tracked(d)) for d in DIRS)
    print(f'[refs] {n} files under {", ".join(d + "/" for d in DIRS)}: {n - len(bad)} referenced, {len(bad)} not')
    sys.exit(1 if bad else 0)
