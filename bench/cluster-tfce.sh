#!/bin/bash
# TFCE permutations of the seed-size cohort (BENCHMARKS.md, Slurm): one process with 2 worker
# threads vs --backend slurm --jobs 1/2/4, each in a fresh copy of a finished analysis, then the
# permutation outputs compared byte for byte with the one-process run.
# Usage: npm run build && bench/cluster-tfce.sh ANALYSIS_FOLDER [permutations] [work folder]
export SLURM_CONF=${SLURM_CONF:-/tmp/slurm-local/slurm.conf}
A=${1:?a finished vbm run folder, e.g. bench-data/out-run-warm}
N=${2:-1000}
W=${3:-/tmp/vbm-cluster-tfce}
mkdir -p "$W"
CLI=$(dirname "$0")/../dist/cli/vbm.js
run() { # tag, extra args
  local tag=$1; shift
  local out=$W/out-$tag
  rm -rf "$out"
  cp -r "$A" "$out"
  rm -f "$out"/perm_* "$out"/vbm-jobs -r
  echo "== $tag $N permutations $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "$tag wall %e s user %U s sys %S s maxrss %M kB (the submitting command)" \
    node "$CLI" permute "$out" --contrast 1 --permutations "$N" --tfce -q "$@"
  echo "   load after $(cut -d' ' -f1-3 /proc/loadavg)"
}
run local --workers 2
for j in 1 2 4; do run slurm$j --backend slurm --jobs $j; done
for j in 1 2 4; do
  for f in $(cd "$W/out-local" && ls perm_* | grep -v '\.json$'); do
    cmp -s "$W/out-local/$f" "$W/out-slurm$j/$f" && echo "slurm$j $f same" || echo "slurm$j $f DIFFERS"
  done
done
