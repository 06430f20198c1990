#!/usr/bin/env bash
# Create (or reuse) the project virtualenv and install neuronspark with everything the course needs.
# Idempotent: a second run with unchanged inputs only checks a stamp and returns.
# Env: NS_VENV (default .venv); NS_SYSTEM_TORCH=1 to use a torch already installed (e.g. a CUDA build):
#      the venv is then created with --system-site-packages and torch/triton are not pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NS_VENV:-.venv}
PY=${PYTHON:-python3}
say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v -e 'is ignored: it is neither a file nor a directory' -e '^$' >&2); }

stamp_src=$(cat constraints.txt settings.ini setup.py tools/install.sh | sha256sum | cut -c1-16)-${NS_SYSTEM_TORCH:-0}
if [ -f "$VENV/.ns-stamp" ] && [ "$(cat "$VENV/.ns-stamp")" = "$stamp_src" ]; then
  say "reusing $VENV (inputs unchanged)"; exit 0
fi

cons=$PWD/constraints.txt
if [ "${NS_SYSTEM_TORCH:-0}" = 1 ]; then
  [ -d "$VENV" ] || { say "creating $VENV with system site-packages (using your torch)"; "$PY" -m venv --system-site-packages "$VENV"; }
  cons=$(mktemp); grep -v -E '^(torch|triton)==' constraints.txt > "$cons"
else
  [ -d "$VENV" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
fi
export PIP_CONSTRAINT=$cons PIP_DISABLE_PIP_VERSION_CHECK=1
say "python: $("$VENV/bin/python" --version), constraints: $cons"
if [ "${NS_SYSTEM_TORCH:-0}" != 1 ]; then
  say "installing torch (CPU build) and triton (for its CPU interpreter)"
  quiet_pip install -q torch triton numpy
fi
say "installing neuronspark (editable) with the course tools (nbdev 2, jupyterlab, smalldocs)"
quiet_pip install -q -e '.[dev]'
# spikingjelly declares torchvision/torchaudio/tensorboard/h5py as requirements, which would replace the pinned
# torch; its neuron/surrogate/functional/monitor modules need only these:
say "installing spikingjelly (--no-deps) with the runtime packages it really uses"
quiet_pip install -q loguru numpy packaging scipy
quiet_pip install -q --no-deps spikingjelly
"$VENV/bin/python" -c "import torch, spikingjelly.activation_based.neuron, nbdev, neuronspark; print('[install] ok: torch', torch.__version__, '| neuronspark', neuronspark.__version__)"
echo "$stamp_src" > "$VENV/.ns-stamp"
