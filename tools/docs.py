"""Build the docs site offline, check it, and generate README.md from nbs/index.ipynb.

  python tools/docs.py build [--check]   # nbdev_proc_nbs -> smalldocs -> vendored KaTeX -> _docs/
  python tools/docs.py check             # checks on the built site (see `check_site`)
  python tools/docs.py readme            # README.md from nbs/index.ipynb (what nbdev_readme does with Quarto)

Quarto cannot be installed on these machines, so the site is rendered by smalldocs from the same `_quarto.yml`
(nbdev_docs still works wherever Quarto exists). Math is pre-rendered with the KaTeX npm package at build time
and its CSS and fonts are copied into the site, so no page loads anything from the network.
"""
import argparse, functools, inspect, json, os, re, shutil, subprocess, sys, tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KATEX_VERSION = '0.16.11'
CACHE = ROOT / '.cache'

def say(*a): print('[docs]', *a, flush=True)

def kernel_fn(sym):
    "The Python function behind a Triton kernel (`triton.jit`, interpreted or not, and autotune/heuristics wrappers), else None."
    f, depth = sym, 0
    while type(f).__module__.split('.')[0] == 'triton' and hasattr(f, 'fn') and depth < 8: f, depth = f.fn, depth + 1
    return f if depth and inspect.isfunction(f) else None

def show_kernels():
    """Make nbdev's `show_doc` document a Triton kernel by its Python function: its own signature and docstring.
    A kernel object's signature is `(*args, **kwargs)` and, under the interpreter, its docstring is `__call__`'s."""
    import nbdev.showdoc as sd
    if getattr(sd.show_doc, 'shows_kernels', False): return
    orig = sd.show_doc
    @functools.wraps(orig)
    def show_doc(sym, *args, **kwargs): return orig(kernel_fn(sym) or sym, *args, **kwargs)
    show_doc.shows_kernels = True
    sd.show_doc = show_doc

def imports_only(src: str) -> bool:
    "Whether a cell's code (directives removed) is nothing but import statements: a setup cell, not part of the lesson."
    import ast
    try: tree = ast.parse(src)
    except SyntaxError: return False
    return all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)

SOURCE_SUMMARY = 'Exported source'

def show_exported_source():
    """Keep the code of `#| export` cells on the page, as nbdev does for `#| exports`: an open, foldable block right where
    the prose introduces it, followed by its API entry. nbdev hides exported code by default, which leaves a lesson's prose
    ("the backward kernel: ...") pointing at nothing. Import-only setup cells, `#| exporti` and `#| hide` cells stay hidden."""
    import nbdev.processors as pr
    if getattr(pr.rm_export, 'shows_source', False): return
    orig = pr.rm_export
    def rm_export(cell):
        d = cell.directives_ or {}
        if cell.cell_type == 'code' and 'export' in d and not (d.keys() & {'exporti', 'hide', 'default_exp'}) \
           and d.get('include:') != ['false'] and not imports_only(cell.source):
            cell.source = f'#| code-fold: show\n#| code-summary: "{SOURCE_SUMMARY}"\n{cell.source}'
            return
        return orig(cell)
    rm_export.shows_source = True
    pr.rm_export = rm_export

def _proc_one(o):
    "nbdev's per-notebook processing (it runs in a fresh worker process) with `show_kernels` and `show_exported_source` in place."
    show_kernels(); show_exported_source()
    import nbdev.serve_drv
    return nbdev.serve_drv.main(o)

def proc_nbs():
    "nbdev's notebook processing (what `nbdev_proc_nbs` does, without its attempt to install Quarto)."
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar, proc_nbs as _proc
    import nbdev.doclinks, nbdev.serve
    cfg = get_config()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    sys.path.insert(0, str(ROOT / 'tools')); import docs   # `docs._proc_one` pickles by a name a spawned worker can import
    run = nbdev.serve.parallel                      # each notebook runs in a spawned worker: hand it `_proc_one`
    nbdev.serve.parallel = lambda f, items, *a, **kw: run(docs._proc_one, items, *a, **kw)
    try: _proc(cfg.nbs_path, n_workers=1, force=True)   # force: a cached _proc/ may predate `show_kernels`
    finally: nbdev.serve.parallel = run
    return cfg

def published_repo(cfg):
    """settings.ini's `git_url` when it is the repository this checkout comes from (its `origin` remote), else None.
    Only then does the site link to the repository (navbar, each API entry's source); otherwise no link leads nowhere."""
    url = (cfg.git_url or '').rstrip('/')
    r = subprocess.run(['git', 'remote', 'get-url', 'origin'], cwd=ROOT, capture_output=True, text=True)
    norm = lambda u: re.sub(r'\.git$', '', re.sub(r'^git@([^:]+):', r'https://\1/', u.strip())).rstrip('/').lower()
    return url if url and r.returncode == 0 and norm(r.stdout) == norm(url) else None

def katex_dir():
    "The KaTeX npm package, unpacked once into .cache/."
    d = CACHE / f'katex-{KATEX_VERSION}'
    if (d / 'dist' / 'katex.js').exists(): return d
    CACHE.mkdir(exist_ok=True)
    say(f'fetching katex@{KATEX_VERSION} from the npm registry')
    out = subprocess.run(['npm', 'pack', f'katex@{KATEX_VERSION}', '--silent'], cwd=CACHE, check=True, capture_output=True, text=True)
    tgz = CACHE / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as t: t.extractall(CACHE / 'katex-tmp', filter='data')
    shutil.move(CACHE / 'katex-tmp' / 'package', d); shutil.rmtree(CACHE / 'katex-tmp'); tgz.unlink()
    return d

def page_map(proc: Path) -> dict:
    "Map nbdev's per-module page names (e.g. plif.html) to the page smalldocs writes for that notebook (01_plif.html)."
    m = {}
    for nb in proc.glob('*.ipynb'):
        src = ''.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'][:2])
        of = re.search(r'output-file:\s*(\S+)', src)
        if of: m[of.group(1)] = nb.stem + '.html'
    return m

MD_LINK = re.compile(r'\[`([^`\]<>]+)`\]\(([^)\s"<>]+)\)')   # [`sym`](page.html#sym), as nbdev writes a symbol's link

@functools.cache
def ids(page: Path) -> str:
    "The `id=\"...\"` attributes of a page, one per line (section links are checked against them)."
    return '\n'.join(f'id="{i}"' for i in re.findall(r'\bid="([^"]+)"', page.read_text()))

SYMBOL_LINK = re.compile(r'<a href="([\w-]*\.html)?#([\w.]+)">(.*?)</a>', re.S)   # nbdev's link to a symbol's entry

def fix_symbol_links(htmls: list):
    """nbdev links every backticked name of the package to its entry, also names that have none on the site (private
    helpers, most methods): such a link lands at the top of the page. Point a method's at its class's entry, and make the
    others plain code."""
    for f in htmls:
        h = f.read_text()
        def fix(m):
            page, frag, text = m.groups()
            target = f.parent / page if page else f
            if not target.exists() or f'id="{frag}"' in ids(target): return m.group(0)
            owner = frag.split('.')[0]
            if '.' in frag and f'id="{owner}"' in ids(target): return f'<a href="{page or ""}#{owner}">{text}</a>'
            return text
        h2 = SYMBOL_LINK.sub(fix, h)
        if h2 != h: f.write_text(h2)
    ids.cache_clear()

def postprocess(site: Path, cfg, pages: dict):
    "Make the site self-contained: local KaTeX, relative doc links, links into the repository only where it is published."
    kd = katex_dir()
    dest = site / 'site_libs' / 'katex'
    if dest.exists(): shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy(kd / 'dist' / 'katex.min.css', dest); shutil.copytree(kd / 'dist' / 'fonts', dest / 'fonts')
    host = f"{cfg.doc_host}{cfg.doc_baseurl}".rstrip('/') + '/'
    repo, published = cfg.git_url.rstrip('/'), published_repo(cfg)
    htmls = sorted(site.rglob('*.html'))
    for f in htmls:
        h = f.read_text()
        # KaTeX: CSS from the site, no client-side rendering (formulas are pre-rendered below)
        h = re.sub(r'<link[^>]*href="https://cdn\.jsdelivr\.net/npm/katex@[^"]*/katex\.min\.css"[^>]*>',
                   '<link rel="stylesheet" href="site_libs/katex/katex.min.css">', h)
        h = re.sub(r'<script[^>]*src="https://cdn\.jsdelivr\.net/npm/katex@[^"]*"[^>]*>\s*</script>', '', h)
        h = re.sub(r'<script>[^<]*renderMathInElement[^<]*</script>', '', h)
        # nbdev's symbol links point at the published site: make them relative, to the page smalldocs wrote
        h = re.sub(re.escape(host) + r'([\w\-]+\.html)', lambda m: pages.get(m.group(1), m.group(1)), h)
        # a docment comment in a signature is code, so nbdev's markdown link to a symbol stays raw text there: make it a link
        h = re.sub(r'(<span class="co">[^<]*)', lambda m: MD_LINK.sub(r'<a href="\2">\1</a>', m.group(1)), h)
        if published:   # the navbar links to the repository
            h = h.replace('<ul class="navbar-nav navbar-nav-scroll ms-auto">', '<ul class="navbar-nav navbar-nav-scroll ms-auto">'
                          f'<li class="nav-item"><a class="nav-link" id="repo-link" href="{published}"><i class="bi bi-github"></i> '
                          '<span class="menu-text">Source</span></a></li>', 1)
        else:           # no published repository: an entry's source link goes, other links into it keep their text only
            h = re.sub(r'<p>\s*<a [^>]*href="' + re.escape(repo) + r'/blob/[^"]*"[^>]*>\s*source\s*</a>\s*</p>\s*', '', h)
            h = re.sub(r'<a [^>]*href="' + re.escape(repo) + r'[^"]*"[^>]*>(.*?)</a>', r'\1', h, flags=re.S)
        f.write_text(h)
    fix_symbol_links(htmls)
    for css in site.rglob('*.css'):  # Bootswatch themes @import web fonts: fall back to the system fonts instead
        t = css.read_text(errors='ignore'); t2 = re.sub(r'@import\s+url\((["\']?)https?://[^)]*\)\s*;?', '', t)
        if t2 != t: css.write_text(t2)
    r = subprocess.run(['node', str(ROOT / 'tools' / 'katex_render.js'), str(kd), *map(str, htmls)], capture_output=True, text=True)
    say(r.stdout.strip()); 
    if r.returncode: print(r.stderr, file=sys.stderr); raise SystemExit('docs: KaTeX could not render some formulas (see above)')

def build():
    cfg = proc_nbs()
    proc = ROOT / '_proc'
    say('rendering _proc with smalldocs')
    r = subprocess.run([str(BIN / 'smalldocs'), 'render', str(proc), '--quiet'], capture_output=True, text=True)
    if r.returncode: print(r.stdout, r.stderr); raise SystemExit('docs: smalldocs failed')
    ignorable = ('format commonmark is not built', 'is ignored', 'output-file is not read')
    for w in r.stderr.splitlines():
        if w.strip() and not any(x in w for x in ignorable): say(w)
    built = proc / '_docs'
    site = ROOT / '_docs'
    if site.exists(): shutil.rmtree(site)
    shutil.move(built, site)
    postprocess(site, cfg, page_map(proc))
    say(f'site written to {site.relative_to(ROOT)}/ (open _docs/index.html)')
    return site

def exported_cells(nb: Path) -> int:
    "How many `#| export` cells of a notebook the site shows the source of (see `show_exported_source`)."
    n = 0
    for c in json.loads(nb.read_text())['cells']:
        lines = ''.join(c['source']).splitlines()
        dirs = [l[2:].strip() for l in lines if l.startswith('#|')]
        if c['cell_type'] != 'code' or 'export' not in dirs or any(d.split(':')[0] in ('exporti', 'hide', 'default_exp') for d in dirs): continue
        if 'include: false' in dirs: continue
        n += not imports_only('\n'.join(l for l in lines if not l.startswith('#|')))
    return n

EXTERNAL = re.compile(r'<(script|link|img|iframe|source)\b[^>]*\b(src|href)="(https?:)?//', re.I)
SCROLLS = ('pre', 'div.sourceCode', '.katex-display')   # must scroll sideways by a rule of the site's own styles.css

def scroll_rules(css: str) -> set:
    "Selectors of the rules in `css` that let an element scroll sideways (`overflow-x: auto|scroll`)."
    css = re.sub(r'/\*.*?\*/', '', css, flags=re.S)
    return {sel.strip() for sels, body in re.findall(r'([^{}]+)\{([^{}]*)\}', css)
            if re.search(r'overflow-x\s*:\s*(auto|scroll)', body) for sel in sels.split(',')}

def check_site(site: Path = ROOT / '_docs') -> bool:
    """Every chapter has a page; math is rendered; nothing external is loaded; internal links resolve. API entries show
    their own signature and docstring (a Triton kernel's too), no bare word "source" sits above them, code, signatures and
    display math scroll sideways (styles.css), every exported cell's code is on its page, no raw markdown link sits
    in a signature, every link to a section (`page.html#id`) finds that id on its page, and the navbar links to the repository exactly when it is published."""
    from nbdev.config import get_config
    problems = []
    cfg = get_config(); repo, published = cfg.git_url.rstrip('/'), published_repo(cfg)
    css = site / 'styles.css'
    missing = [s for s in SCROLLS if s not in scroll_rules(css.read_text())] if css.exists() else list(SCROLLS)
    if missing: problems.append(f'styles.css: no `overflow-x: auto` rule for {missing}: wide code or math would be cut at the column edge')
    nbs = sorted(p.stem for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
    for n in nbs:
        page = site / f'{n}.html'
        if not page.exists(): problems.append(f'no page for nbs/{n}.ipynb'); continue
        want, shown = exported_cells(ROOT / 'nbs' / f'{n}.ipynb'), page.read_text().count(f'<summary>{SOURCE_SUMMARY}</summary>')
        if shown != want: problems.append(f'{n}.html: shows the source of {shown} of its {want} exported cells (prose would point at hidden code)')
    for f in sorted(site.rglob('*.html')):
        h = f.read_text(); rel = f.relative_to(site)
        for m in EXTERNAL.finditer(h): problems.append(f'{rel}: loads an external resource: {h[m.start():m.start()+120]!r}')
        if re.search(r'url\((["\']?)https?://', h): problems.append(f'{rel}: external url() in inline style')
        body = re.sub(r'<(pre|code|script)[\s\S]*?</\1>', '', h)
        if re.search(r'\\\(|\\\[', body): problems.append(f'{rel}: unrendered TeX delimiters \\( or \\[ remain')
        if 'class="katex' in h and 'site_libs/katex/katex.min.css' not in h: problems.append(f'{rel}: KaTeX output without its stylesheet')
        if 'Call self as a function' in h: problems.append(f'{rel}: an API entry shows "Call self as a function" (a kernel object, not its function)')
        if re.search(r'<(p|div|span)\b[^>]*>\s*source\s*</\1>', body): problems.append(f'{rel}: a bare, unlinked word "source"')
        for m in MD_LINK.finditer(h): problems.append(f'{rel}: raw markdown link {m.group(0)!r} (in a signature or code)')
        if f.suffix == '.html' and '<nav class="navbar' in h:
            if 'styles.css"' not in h: problems.append(f'{rel}: does not load styles.css')
            if published and f'id="repo-link" href="{published}"' not in h: problems.append(f'{rel}: no navbar link to {published}')
            if not published and f'href="{repo}' in h: problems.append(f'{rel}: links to {repo}, which this checkout does not come from')
        for href in re.findall(r'(?:href|src)="([^"#?]+)(?:[#?][^"]*)?"', h):
            if re.match(r'^(https?:|mailto:|data:|javascript:)', href) or href.startswith('//'): continue
            target = (f.parent / href).resolve()
            if href.endswith('/'): target = target / 'index.html'
            if not target.exists(): problems.append(f'{rel}: broken internal link {href}')
        for page, frag in re.findall(r'<a\b[^>]*\bhref="([\w./-]*\.html)?#([^"]+)"', h):   # a section link lands on its heading
            target = (f.parent / page).resolve() if page else f
            if target.suffix == '.html' and target.exists() and f'id="{frag}"' not in ids(target):
                problems.append(f'{rel}: link to {page or ""}#{frag}, which has no such anchor')
    for css in site.rglob('*.css'):
        if re.search(r'@import\s+url\((["\']?)https?://|url\((["\']?)https?://', css.read_text(errors='ignore')):
            problems.append(f'{css.relative_to(site)}: stylesheet loads from the network')
    n_math = sum(f.read_text().count('class="katex"') for f in site.rglob('*.html'))
    for p in problems: print('  -', p)
    say(f'{len(nbs)} notebooks, {len(list(site.rglob("*.html")))} pages, {n_math} rendered formulas, {len(problems)} problems'
        + ('' if published else f'; no repository links (settings.ini git_url {repo} is not this checkout\'s origin)'))
    if n_math == 0: print('  - no rendered math found anywhere'); return False
    return not problems

def readme():
    "README.md from nbs/index.ipynb: markdown cells as they are, code cells with their stored text output."
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    out = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        lines = src.splitlines()
        opts = [l for l in lines if l.startswith('#|')]
        if any(re.match(r'#\|\s*(hide|include:\s*false)', o) for o in opts): continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if c['cell_type'] == 'markdown':
            body = re.sub(r'\]\((?!https?:|#)([^)]+?)\.ipynb\)', r'](nbs/\1.ipynb)', body)     # chapter links
            body = re.sub(r'\]\((?!https?:|#|nbs/)(images/[^)]+)\)', r'](nbs/\1)', body)        # images
            out.append(body)
        elif not any(re.match(r'#\|\s*echo:\s*false', o) for o in opts):
            if body: out.append(f'```python\n{body}\n```')
            txt = ''.join(''.join(o.get('text', '')) if o['output_type'] == 'stream' else ''.join(o.get('data', {}).get('text/plain', ''))
                          for o in c.get('outputs', []))
            if txt.strip(): out.append('```\n' + txt.rstrip() + '\n```')
    (ROOT / 'README.md').write_text('<!-- generated from nbs/index.ipynb by `python tools/docs.py readme`: do not edit -->\n\n' + '\n\n'.join(out) + '\n')
    say('README.md written from nbs/index.ipynb')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('cmd', choices=['build', 'check', 'readme'])
    ap.add_argument('--check', action='store_true', help='after building, run the site checks')
    a = ap.parse_args()
    os.chdir(ROOT)
    if a.cmd == 'readme': readme()
    elif a.cmd == 'check': sys.exit(0 if check_site() else 1)
    else:
        site = build()
        if a.check: sys.exit(0 if check_site(site) else 1)
