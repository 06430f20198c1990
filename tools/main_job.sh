#!/usr/bin/env bash
# The README's main job on the embedded default data. Until the training chapters land it is chapter 1's demo.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NS_VENV:-.venv}/bin
echo "[main] chapter 1 demo: PLIF neurons on constant and noisy input"
"$B/ns-demo" --out out/plif_demo.png
