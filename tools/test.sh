#!/usr/bin/env bash
# Every check CI runs, each counted as one test, ending with a line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${NS_VENV:-.venv}/bin
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
pass=0; fail=0; failed=()
snap() { find "$@" -type f \( -name '*.ipynb' -o -name '*.py' -o -name '*.md' \) -not -path '*/.ipynb_checkpoints/*' -print0 2>/dev/null | sort -z | xargs -0 sha256sum; }
check() {  # check NAME CMD...: run CMD, count it
  local name=$1; shift
  echo; echo "=== $name"
  local t0=$SECONDS
  if "$@"; then pass=$((pass+1)); echo "PASS  $name ($((SECONDS-t0))s)"
  else fail=$((fail+1)); failed+=("$name"); echo "FAIL  $name ($((SECONDS-t0))s)"; fi
}
unchanged() {  # unchanged WHAT DIRS -- CMD...: CMD must not modify files under DIRS
  local what=$1; shift; local dirs=(); while [ "$1" != -- ]; do dirs+=("$1"); shift; done; shift
  local before; before=$(snap "${dirs[@]}")
  "$@" >/tmp/ns-unchanged.log 2>&1 || { cat /tmp/ns-unchanged.log; echo "$what: command failed"; return 1; }
  local after; after=$(snap "${dirs[@]}")
  if [ "$before" != "$after" ]; then
    echo "$what: these files changed (commit the result of the command):"
    diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "   ", $3}'
    return 1
  fi
}
check "notebooks are clean (nbdev_clean changes nothing)" unchanged "nbdev_clean" nbs -- "$B/nbdev_clean"
check "library is in sync with the notebooks (nbdev_export changes nothing)" unchanged "nbdev_export" neuronspark -- "$B/nbdev_export"
check "README.md is in sync with nbs/index.ipynb" unchanged "readme" README.md -- "$B/python" tools/docs.py readme
check "every file under bench/results/ and nbs/logs/ is read or named by a chapter, bench script or tool" "$B/python" tools/check_refs.py

echo; echo "=== notebook tests (nbdev's executor; each notebook is one test)"
"$B/python" tools/run_tests.py --n_workers "${NS_TEST_WORKERS:-2}" | tee /tmp/ns-nbtests.log
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' /tmp/ns-nbtests.log | tail -1)
np=${line%% passed*}; nf=${line#*, }; nf=${nf%% failed*}
pass=$((pass+${np:-0})); fail=$((fail+${nf:-1}))

check "docs site builds offline and passes its checks" "$B/python" tools/docs.py build --check

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
