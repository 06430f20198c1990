"""What the compiler makes of the fused PLIF backward: compile it for an H100 (sm_90) on any machine, no GPU needed.

Triton compiles to PTX and ptxas to machine code (SASS) without a device; `cuobjdump`, which ships with Triton, reports
the registers and stack (spill) bytes per thread and disassembles the SASS. The counts that matter for a memory-bound
scan: shared-memory loads/stores (LDS/STS) and barriers (BAR), which appear when the compiler spreads a tile's chunk
axis over warps, and stack bytes, which appear when a thread's tiles no longer fit its registers.

    python bench/kernel_asm.py                 # the v75 launch shapes: selective chunk 4 and 2, drive chunk 16, COEF mode, AND chunk 8
    python bench/kernel_asm.py --json          # the same as JSON (chapter 4 reads it)
    python bench/kernel_asm.py --sass OUT_DIR  # also write each kernel's SASS listing

Run it without TRITON_INTERPRET (the interpreter replaces the kernels by Python functions, which cannot be compiled).
"""
from __future__ import annotations
import collections, json, os, re, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # the source tree's neuronspark, without installing it

CASES = {'selective, chunk 4 (v75 batch 8)': dict(sel=True, CH=4), 'selective, chunk 2': dict(sel=True, CH=2),
         'drive, chunk 16': dict(sel=False, CH=16), 'selective coefficients (COEF)': dict(sel=True, CH=4, coef=True)}

def cuobjdump() -> Path:
    import triton
    return Path(triton.__file__).parent / 'backends' / 'nvidia' / 'bin' / 'cuobjdump'

def compiled_fused_bwd(sel=True, CH=4, BR=4, BW=32, num_warps=4, coef=False, arch=90, sass_to=None) -> dict:
    "Compile `fused_bwd_kernel` (bf16 input, as under autocast) for sm_`arch`: registers, stack bytes, SASS instruction counts."
    from neuronspark.kernels.fused import fused_bwd_kernel as fn
    fp32 = {'p1_ptr', 'p2_ptr', 'p3_ptr', 'ckpt_ptr', 'dp1_ptr', 'dp2_ptr', 'dp3_ptr', 'dv0_ptr', 'pq_ptr', 'gend_ptr'}
    cons = dict(sx_w=1, sgs_w=1, SEL=sel, HAS_V0=False, HAS_GS=True, HAS_GVL=False, COEF=coef, CH=CH, BR=BR, BW=BW)
    return compiled(fn, cons, fp32, num_warps, arch, sass_to)

def compiled_and_bwd(CH=8, BR=2, BW=32, num_warps=2, arch=90, sass_to=None) -> dict:
    "Compile `and_bwd_kernel` (the FFN's gate/up scan with its AND; bf16 input) the same way."
    from neuronspark.kernels.spike_and import and_bwd_kernel as fn
    fp32 = {'b_ptr', 'th_ptr', 'ckpt_ptr', 'v0_ptr', 'db_ptr', 'dth_ptr', 'dv0_ptr', 'gvl_ptr'}
    cons = dict(sx_w=1, sga_w=1, HAS_V0=False, HAS_GA=True, HAS_GVL=False, CH=CH, BR=BR, BW=BW)
    return compiled(fn, cons, fp32, num_warps, arch, sass_to)

def compiled(fn, cons:dict, fp32:set, num_warps:int, arch:int=90, sass_to=None) -> dict:
    "Compile the Triton kernel `fn` with constexprs `cons` (pointers in `fp32` fp32, the others bf16) for sm_`arch`."
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    names = fn.arg_names
    sig = {k: ('*fp32' if k in fp32 else '*bf16') if k.endswith('_ptr') else 'fp32' if k in ('alpha', 'v_min') else 'i32' for k in names}
    sig.update({k: 'constexpr' for k in cons})
    attrs = {(i,): [['tt.divisibility', 16]] for i, k in enumerate(names) if k.endswith('_ptr')}
    src = ASTSource(fn, sig, constexprs={(names.index(k),): v for k, v in cons.items()}, attrs=attrs)
    k = triton.compile(src, target=GPUTarget('cuda', arch, 32), options=dict(num_warps=num_warps))
    with tempfile.NamedTemporaryFile(suffix='.cubin') as f:
        f.write(k.asm['cubin']); f.flush()
        res = subprocess.run([str(cuobjdump()), '-res-usage', f.name], capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([str(cuobjdump()), '-sass', f.name], capture_output=True, text=True, check=True).stdout
    if sass_to: Path(sass_to).write_text(sass)
    ops = collections.Counter(re.findall(r'/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)', sass))
    use = dict(re.findall(r'(REG|STACK|SHARED|LOCAL):(\d+)', res))
    return dict(regs=int(use['REG']), stack=int(use['STACK']), instructions=sum(ops.values()),
                **{op: ops[op] for op in ('LDS', 'STS', 'BAR', 'MUFU', 'LDG', 'STG')})

def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--json', action='store_true', help='print the counts as one JSON object')
    ap.add_argument('--sass', default=None, help='folder for the SASS listings')
    a = ap.parse_args(argv)
    if os.environ.get('TRITON_INTERPRET') == '1': raise SystemExit('kernel_asm: unset TRITON_INTERPRET (the interpreter cannot compile)')
    if not cuobjdump().exists(): raise SystemExit(f'kernel_asm: this Triton install has no {cuobjdump()}')
    if a.sass: Path(a.sass).mkdir(parents=True, exist_ok=True)
    sass = lambda name: None if not a.sass else Path(a.sass) / (re.sub(r'\W+', '_', name) + '.sass')
    # sums: per-neuron gradients a program adds up over its block's rows at the end (each costs a few LDS/STS/BAR)
    out = {name: dict(compiled_fused_bwd(**kw, sass_to=sass(name)), sums=0 if kw.get('coef') else 3 if kw['sel'] else 2)
           for name, kw in CASES.items()}
    from neuronspark.kernels.spike_and import AND_TUNING     # the AND kernels' chunk on a GPU: at 16 their backward spills
    name = f"AND, chunk {AND_TUNING.chunk} (v75 batch 8)"  # and_bwd_kernel: the FFN's gate/up scan and AND, and_config's shape (2 warps, 2 x 32)
    out[name] = dict(compiled_and_bwd(CH=AND_TUNING.chunk, sass_to=sass(name)), sums=4)
    if a.json: print(json.dumps(out)); return
    print('fused_bwd_kernel compiled for sm_90 (bf16 input, 4 warps, blocks of 4 rows x 32 neurons), and and_bwd_kernel:')
    for name, c in out.items(): print(f'  {name:34}', '  '.join(f'{k} {v}' for k, v in c.items()))

if __name__ == '__main__': main()
