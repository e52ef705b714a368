/** vbm results on bad requests: clear errors naming what exists, nothing written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runResults } from '../src/pipeline/results.js';
import { VbmError } from '../src/errors.js';

test('unknown contrast, out-of-range thresholds and an incomplete folder are refused', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({
      n: 10,
      dims: [14, 16, 14],
      voxelMm: 10,
      noiseFwhmMm: 18,
      seed: 4,
      effects: [{ covariate: 'age', centreMm: [20, -10, 10], sigmaMm: 12, perSd: 0.1 }],
    });
    const design = writeCohort(dir, cohort);
    const out = join(dir, 'out');
    await runAnalysis({
      design,
      out,
      contrasts: [
        { name: 'age up', type: 'T', columns: ['age'], weights: [1] },
        { name: 'age or sex', type: 'F', columns: ['age', 'sex'] },
      ],
    });
    const before = readdirSync(out).sort();
    const err = (f: () => unknown, re: RegExp): void =>
      assert.throws(f, (e: unknown) => e instanceof VbmError && re.test(`${e.message} ${e.hint ?? ''}`));
    err(
      () => runResults(out, { contrast: 3, threshold: 0.001, correction: 'none', extent: 0 }),
      /no contrast 3 .*the contrasts are: 1 'age up', 2 'age or sex'/,
    );
    err(
      () => runResults(out, { contrast: 'age down', threshold: 0.001, correction: 'none', extent: 0 }),
      /no contrast "age down"/,
    );
    err(
      () => runResults(out, { contrast: 1, threshold: 3.1, correction: 'fwe', extent: 0 }),
      /not a p-value; FWE correction needs a level below 1/,
    );
    err(() => runResults(out, { contrast: 1, threshold: -1, correction: 'none', extent: 0 }), /must be positive/);
    err(
      () => runResults(out, { contrast: 1, threshold: 0.001, correction: 'none', extent: 2.5 }),
      /whole number of voxels/,
    );
    assert.deepEqual(readdirSync(out).sort(), before, 'nothing written by refused requests');
    // a statistic value as height threshold, and the maps on request
    const res = runResults(out, {
      contrast: 'age up',
      threshold: 3.1,
      correction: 'none',
      extent: 0,
      maps: ['p', 'logp', 'z'],
    });
    assert.equal(res.table.height.u, 3.1);
    for (const f of [
      'spmT_0001_thresh.nii',
      'spmT_0001_p.nii',
      'spmT_0001_mlog10p.nii',
      'spmT_0001_z.nii',
      'table_0001.csv',
      'table_0001.json',
    ])
      assert.ok(existsSync(join(out, f)), f);
    rmSync(join(out, 'spmF_0002.nii'));
    err(
      () => runResults(out, { contrast: 2, threshold: 0.001, correction: 'none', extent: 0 }),
      /spmF_0002\.nii is missing/,
    );
  } finally {
    cleanup();
  }
});
