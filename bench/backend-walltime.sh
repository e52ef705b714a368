#!/bin/bash
# Wall time of vbm permute (TFCE), plain and as tasks (--backend slurm|local --jobs N).
# Needs a running Slurm (sudo ../shared/tools/slurm/start-local-slurm.sh) and `npx tsc -p .`.
# Usage: bench/backend-walltime.sh [WORKDIR]   (default /tmp/vbm-backend-bench; studies are cached there)
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLI="$ROOT/dist/cli/vbm.js"
W="${1:-/tmp/vbm-backend-bench}"
export SLURM_CONF="${SLURM_CONF:-/tmp/slurm-local/slurm.conf}"
mkdir -p "$W" && cd "$W" || exit 1
study() { # DIR N NX NY NZ MM: a synthetic cohort with a planted age effect, fitted
  [ -f "$1/res/model.json" ] && return
  node --input-type=module -e "
    import { writeFileSync, mkdirSync } from 'node:fs';
    import { join } from 'node:path';
    import { makeCohort, templateMask, writeCohort } from '$ROOT/dist/src/synth/phantom.js';
    import { runAnalysis } from '$ROOT/dist/src/pipeline/run.js';
    const [dir, n, nx, ny, nz, mm] = ['$1', $2, $3, $4, $5, $6];
    mkdirSync(dir, { recursive: true });
    const cohort = makeCohort({ n, dims: [nx, ny, nz], voxelMm: mm, noiseFwhmMm: 12, seed: 21, effects: [{ covariate: 'age', centreMm: [35, -20, 10], sigmaMm: 9, perSd: 0.12 }] });
    const design = writeCohort(dir, cohort, { format: 'nii' });
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    await runAnalysis({ design, out: join(dir, 'res'), covariates: ['age', 'sex'], contrasts: [{ name: 'age +', type: 'T', columns: ['age'], weights: [1] }], masking: { explicitMask: join(dir, 'mask.nii') }, workers: 1 });
  "
}
t() { # NAME STUDY ARGS...: one run in a fresh copy of the study's analysis folder
  local name=$1 src=$2; shift 2
  rm -rf w && cp -r "$src" w
  local s=$(date +%s.%N)
  node "$CLI" permute w "$@" -q >/dev/null 2>w.err || { echo "$name FAILED"; cat w.err; }
  echo "$name $(echo "$(date +%s.%N) - $s" | bc) s"
}
study small 24 24 28 24 7
study medium 100 60 72 60 3
uptime
echo "# overhead: small study (24 scans, 4,788 voxels), 100 TFCE permutations"
for i in 1 2 3; do
  t plain-w1 small/res --contrast 1 --permutations 100 --tfce --workers 1
  t slurm-j1 small/res --contrast 1 --permutations 100 --tfce --backend slurm --jobs 1
  t local-j1 small/res --contrast 1 --permutations 100 --tfce --backend local --jobs 1
done
echo "# small study, 5000 TFCE permutations"
t plain-w1 small/res --contrast 1 --permutations 5000 --tfce --workers 1
t plain-w2 small/res --contrast 1 --permutations 5000 --tfce --workers 2
for j in 1 2 4; do t slurm-j$j small/res --contrast 1 --permutations 5000 --tfce --backend slurm --jobs $j; done
for j in 1 2 4; do t local-j$j small/res --contrast 1 --permutations 5000 --tfce --backend local --jobs $j; done
echo "# medium study (100 scans, 60x72x60 at 3 mm, 60,828 voxels), 1000 TFCE permutations"
t plain-w2 medium/res --contrast 1 --permutations 1000 --tfce --workers 2
for j in 1 2 4; do t slurm-j$j medium/res --contrast 1 --permutations 1000 --tfce --backend slurm --jobs $j; done
uptime
