# Sourced by bench/dpo_gpu.sh and bench/sft_variants.sh, which start several training runs side by side on one GPU.
# Runs side by side can die at their start for want of the GPU's resources at that moment: an SNN small pretraining that
# distils from its Llama holds 12 to 17 GB in its first steps (six started at once on an H100 held that much each when
# its 79 GB ran out, and five stopped with torch.OutOfMemoryError or CUBLAS_STATUS_ALLOC_FAILED). Beside five other
# processes, runs have died at their start with "CUDA error: unspecified launch failure" (SNN pretrainings, runs L and M)
# or "CUDA error: out of memory" (three DPO runs beside three others, run M), and each ran normally when started again.
# Such a run is started once more at once, in its place beside the others; any other failure is reported as before.

cuda_start_error() {   # cuda_start_error LOG: did the run whose log this is die of one of those CUDA errors?
  tail -n 30 "$1" | grep -qE 'unspecified launch failure|CUDA error: out of memory|CUDA out of memory|CUBLAS_STATUS_ALLOC_FAILED'
}

again() {   # again LOG DIR CMD...: run CMD, which writes its log LOG and its run folder DIR; after a CUDA error at its
            # start, run it once more, its failed log kept beside LOG as *.failed.log and DIR cleared first unless it
            # holds checkpoints to resume from
  local log=$1 dir=$2; shift 2
  "$@" && return 0
  cuda_start_error "$log" || return 1
  cp "$log" "${log%.log}.failed.log"; [ -d "$dir/checkpoints" ] || rm -rf "${dir:?}"
  echo "$(basename "$0"): CUDA error at the start of $dir (its log: $(basename "${log%.log}").failed.log); started again" | tee -a "$log"
  "$@"
}
