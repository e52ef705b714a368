#!/bin/bash
# The fit of the seed-size cohort (BENCHMARKS.md, Slurm stages): in-process vs --backend slurm
# --jobs 1/2/4, fresh output folders, then the maps compared byte for byte.
# Usage: npm run build && bench/cluster-fit.sh [cohort folder] [work folder]
export SLURM_CONF=${SLURM_CONF:-/tmp/slurm-local/slurm.conf}
C=${1:-/tmp/speed-bench-data/cohort-n379-121x145x121-1.5mm-nii}
W=${2:-/tmp/vbm-cluster-bench}
mkdir -p $W
CLI=$(dirname "$0")/../dist/cli/vbm.js
ARGS=(--mask $C/brainmask.nii -q --contrast 'age+:T:age=1' 'age-:T:age=-1' 'apoe4-:T:apoe4=-1' 'F:age,apoe4')
run() { # tag, extra args
  local tag=$1; shift
  local out=$W/out-$tag
  rm -rf $out
  echo "== $tag $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "$tag wall %e s user %U s sys %S s maxrss %M kB" node $CLI run $C/design.csv --out $out "${ARGS[@]}" "$@"
  echo "   load after $(cut -d' ' -f1-3 /proc/loadavg)"
}
run inproc --workers 2
for j in 1 2 4; do run slurm$j --backend slurm --jobs $j; done
for j in 1 2 4; do
  for f in beta_0001.nii ResMS.nii RPV.nii spmF_0004.nii; do cmp -s $W/out-inproc/$f $W/out-slurm$j/$f && echo "slurm$j $f same" || echo "slurm$j $f DIFFERS"; done
done
