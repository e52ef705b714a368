/**
 * node dist/bench/nonsphericity.js --data DIR [--n 379] [--dims 121,145,121] [--voxel 1.5] [--workers 2] [--mode gen|ols|unequal]
 *
 * The unequal-variance (two-sample) fit against the multiple-regression fit on the same cohort
 * (bench.ts's phantom, .nii.gz): `gen` writes the cohort; `ols` and `unequal` each time one fit
 * of the design [group 0, group 1, age] in this process (run each in a fresh process: the peak
 * RSS printed is that fit's). The groups are the cohort's `sex` column, with variance groups for
 * `unequal`; the cost does not depend on whether the variances truly differ.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { fitModel } from '../src/estimation/fit.js';
import type { Design } from '../src/model/designMatrix.js';
import { rank } from '../src/model/linalg.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const n = Number(args.get('n') ?? 379);
const dims = (args.get('dims') ?? '121,145,121').split(',').map(Number) as [number, number, number];
const voxel = Number(args.get('voxel') ?? 1.5);
const dir = resolve(args.get('data') ?? '/tmp/vbm-bench-ns');
const mode = args.get('mode') ?? 'gen';
const workers = Number(args.get('workers') ?? 2);

if (mode === 'gen') {
  if (!existsSync(join(dir, 'complete.json'))) {
    mkdirSync(dir, { recursive: true });
    const cohort = makeCohort({
      n,
      dims,
      voxelMm: voxel,
      noiseFwhmMm: 8,
      noiseSd: 0.06,
      seed: 379,
      noisePool: Math.min(n, 24),
      effects: [{ covariate: 'age', centreMm: [30, -20, 10], sigmaMm: 8, perSd: -0.04 }],
    });
    writeCohort(dir, cohort, { format: 'nii.gz', gzipLevel: 1 });
    writeFileSync(join(dir, 'brainmask.nii'), templateMask(cohort, 0.1));
    writeFileSync(join(dir, 'complete.json'), JSON.stringify({ n, dims, voxel }));
  }
} else {
  const lines = readFileSync(join(dir, 'design.csv'), 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  const rows = lines.slice(1).map((l) => l.split(','));
  const col = (name: string): number[] => rows.map((r) => Number(r[head.indexOf(name)]));
  const sex = col('sex');
  const age = col('age');
  const mAge = age.reduce((a, b) => a + b, 0) / age.length;
  const X = rows.map((_, i) => [sex[i] === 0 ? 1 : 0, sex[i] === 0 ? 0 : 1, age[i] - mAge]);
  const scans = rows.map((r) => join(dir, r[0]));
  const design: Design = {
    scans,
    scanLabels: scans,
    columns: ['group[0]', 'group[1]', 'age'],
    X,
    covariates: [],
    intercept: false,
    n: X.length,
    p: 3,
    rank: rank(X),
    df: X.length - rank(X),
    collinear: [],
    roles: ['H', 'H', 'C'],
    rows: X.map((_, i) => i + 2),
    model: 'two_sample',
    columnInfo: [],
    factors: [],
    ...(mode === 'unequal' ? { varianceGroups: Int32Array.from(sex, (s) => (s === 0 ? 0 : 1)) } : {}),
  };
  const t = performance.now();
  const fit = await fitModel(design, { masking: { explicitMask: join(dir, 'brainmask.nii') }, workers });
  const total = performance.now() - t;
  const ns = fit.nonSphericity;
  process.stdout.write(
    JSON.stringify({
      mode,
      n: design.n,
      voxels: fit.vox.length,
      totalMs: Math.round(total),
      timings: Object.fromEntries(Object.entries(fit.timings).map(([k, v]) => [k, Math.round(v)])),
      pooled: ns?.voxelsPooled,
      h: ns?.h,
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }) + '\n',
  );
}
