# Source on the GPU machine (device tool) before running anything: installs the carried wheels (.whl/: execnb,
# fastcore, ipython and friends, spikingjelly, loguru, snownlp; made here by `bash tools/gpu_wheels.sh`) into /tmp/site
# and puts the repo on the path.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >/dev/null 2>&1 || { echo "wheel install failed"; return 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -c "import torch, triton; print('gpu env:', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(0))"
