#!/bin/bash
# Larger-than-memory permutations as tasks over one shared scratch file (BENCHMARKS.md, helper
# `slurm`): max-T on a finished analysis with a memory budget below its data, in one process and
# as Slurm tasks (one task writes the scratch file, the others stream it, split by voxel blocks),
# then the permutation maps compared byte for byte.
# Usage: npm run build && bench/shared-scratch.sh ANALYSIS [permutations] [memory] [jobs] [work folder]
export SLURM_CONF=${SLURM_CONF:-/tmp/slurm-local/slurm.conf}
A=$1
N=${2:-256}
M=${3:-400M}
J=${4:-4}
W=${5:-/tmp/vbm-shared-scratch-bench}
CLI=$(dirname "$0")/../dist/cli/vbm.js
mkdir -p $W
run() { # tag, extra args
  local tag=$1; shift
  rm -rf $W/$tag; cp -r $A $W/$tag
  echo "== $tag $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "$tag wall %e s user %U s sys %S s maxrss %M kB" \
    node $CLI permute $W/$tag --contrast 1 --permutations $N --seed 1 --memory $M -q "$@" > $W/$tag.out 2> $W/$tag.err
  grep -h "note:" $W/$tag.err | sed 's/^/   /'
  tail -1 $W/$tag.err
  for l in $W/$tag/vbm-tasks/*/logs/task_*.log; do [ -f "$l" ] && echo "   $(basename $(dirname $(dirname $l)))/$(basename $l): $(grep -h 'note: \(scratch\|[0-9]* passes\)' $l | tr '\n' ' ') $(tail -1 $l)"; done
  echo "   load after $(cut -d' ' -f1-3 /proc/loadavg)"
}
run one --workers 2
run slurm$J --backend slurm --jobs $J
for f in perm_0001_vox_p_unc.nii perm_0001_vox_p_fwe.nii; do
  cmp -s $W/one/$f $W/slurm$J/$f && echo "slurm$J $f same" || echo "slurm$J $f DIFFERS"
done
