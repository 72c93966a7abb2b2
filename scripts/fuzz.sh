#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target (func Fuzz* in a _test.go file) of the
# repository, one after the other, each for DURATION.
#
#   scripts/fuzz.sh                 # 60s per target, every package
#   scripts/fuzz.sh 10m ./signer/...  # longer, only some packages
#   scripts/fuzz.sh -list           # print the targets and stop
#
# Seeds: each target adds its own seeds with f.Add, read from real samples;
# the PDF and CMS targets read them from ../shared/corpus (relative to the
# repository root), which must be present. Inputs found earlier that widen
# coverage are kept in Go's fuzz cache ($(go env GOCACHE)/fuzz), so later runs
# start from them.
#
# Crashes: when a target fails, `go test -fuzz` writes the input to
# <package>/testdata/fuzz/<Target>/<hash>. From then on plain `go test` runs
# it as a regression test. Fix the bug, then commit that file with the fix.
# The script lists such new files at the end and exits 1 if any target
# failed.
#
# Bounds: each target runs for DURATION (plus build time); the whole go test
# run of one target is killed after FUZZ_TIMEOUT (default 30m).
#
# Minimisation: go test minimises every input that finds new coverage for up
# to -fuzzminimizetime (60s by default) before fuzzing on. Mutated PDFs find
# new coverage all the time at first, and one execution on a PDF costs
# milliseconds, so with the default the workers spent nearly all their time
# minimising (signer/validate FuzzDiscover: 12 execs in 30s). FUZZ_MINIMIZE
# (default 50x, i.e. 50 executions per input) bounds it: 52,000 execs in 30s
# on 2 cores. Inputs are then kept less reduced, which is fine for PDFs.
set -uo pipefail
cd "$(dirname "$0")/.."

list=false
if [ "${1:-}" = "-list" ]; then
  list=true
  shift
fi
dur=${1:-60s}
[ $# -gt 0 ] && shift
patterns=("$@")
[ ${#patterns[@]} -eq 0 ] && patterns=(./...)
timeout=${FUZZ_TIMEOUT:-30m}
minimize=${FUZZ_MINIMIZE:-50x}

if ! [[ $dur =~ ^[0-9]+(s|m|h|x)$ ]]; then
  echo "usage: $0 [-list] [DURATION like 60s, 10m or 1000x] [PACKAGES...]" >&2
  exit 2
fi
if [ ! -d ../shared/corpus ]; then
  echo "warning: ../shared/corpus is missing; targets seeded from it will fail" >&2
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/thiqa-fuzz.XXXXXX")
failed=()
ran=0
while read -r pkg dir; do
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*(' "$dir"/*_test.go 2>/dev/null | sed 's/^func //; s/($//' | sort -u)
  for t in $targets; do
    if $list; then
      echo "$pkg $t"
      continue
    fi
    ran=$((ran + 1))
    log="$logs/$(echo "$pkg" | tr / _).$t.log"
    printf '== %-50s %-28s ' "$pkg" "$t"
    start=$(date +%s)
    if go test -run '^$' -fuzz "^$t\$" -fuzztime "$dur" -fuzzminimizetime "$minimize" -timeout "$timeout" "$pkg" >"$log" 2>&1; then
      echo "ok ($(($(date +%s) - start))s, $(grep -o 'execs: [0-9]*' "$log" | tail -1))"
    else
      echo "FAIL (log: $log)"
      tail -n 25 "$log" | sed 's/^/    /'
      failed+=("$pkg $t")
    fi
  done
done < <(go list -e -f '{{.ImportPath}} {{.Dir}}' "${patterns[@]}")

$list && exit 0
echo "ran $ran fuzz targets for $dur each; logs in $logs"
new=$(git status --porcelain --untracked-files=all 2>/dev/null | awk '$1 == "??" && $2 ~ /testdata\/fuzz\// {print $2}')
if [ -n "$new" ]; then
  echo "new failing inputs (regression tests once committed with the fix):"
  echo "$new" | sed 's/^/  /'
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed targets:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
