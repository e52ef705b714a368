/** One 4-D file holding every subject gives the same analysis as one 3-D file per subject. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tempDir, maxRelDiff } from './helpers.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { readVolume } from '../src/node/nifti/read.js';
import { runAnalysis } from '../src/pipeline/run.js';

test('a 4-D .nii.gz named on every row (or as file.nii,K) equals the 3-D files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 9;
    const cohort = makeCohort({ n, dims: [14, 16, 14], voxelMm: 10, noiseFwhmMm: 18, seed: 12 });
    const design = writeCohort(dir, cohort, { format: 'nii' });
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    // build the 4-D file by hand: the first 3-D header with dim[0] = 4 and dim[4] = n, then all volumes
    const files = lines.slice(1).map((l) => readFileSync(join(dir, l.split(',')[0])));
    const hdr = Buffer.from(files[0].subarray(0, 352));
    hdr.writeInt16LE(4, 40);
    hdr.writeInt16LE(n, 48);
    writeFileSync(join(dir, 'all.nii.gz'), gzipSync(Buffer.concat([hdr, ...files.map((f) => f.subarray(352))])));
    writeFileSync(
      join(dir, 'd4.csv'),
      [lines[0], ...lines.slice(1).map((l) => l.replace(/^[^,]+/, 'all.nii.gz'))].join('\n'),
    );
    // SPM's 'file,K' volume syntax; in CSV the comma needs quotes
    writeFileSync(
      join(dir, 'd4k.csv'),
      [lines[0], ...lines.slice(1).map((l, i) => l.replace(/^[^,]+/, `"all.nii.gz,${i + 1}"`))].join('\n'),
    );
    const contrasts = [{ name: 'age', type: 'T' as const, columns: ['age'], weights: [1] }];
    await runAnalysis({ design, out: join(dir, 'o3'), contrasts, workers: 2 });
    await runAnalysis({ design: join(dir, 'd4.csv'), out: join(dir, 'o4'), contrasts, workers: 2 });
    await runAnalysis({ design: join(dir, 'd4k.csv'), out: join(dir, 'o4k'), contrasts, workers: 2 });
    for (const o of ['o4', 'o4k']) {
      for (const f of ['beta_0002.nii', 'ResMS.nii', 'spmT_0001.nii', 'mask.nii']) {
        assert.equal(
          maxRelDiff(readVolume(join(dir, o, f)).data, readVolume(join(dir, 'o3', f)).data),
          0,
          `${o}/${f}: ${maxRelDiff(readVolume(join(dir, o, f)).data, readVolume(join(dir, 'o3', f)).data)}`,
        );
      }
    }
  } finally {
    cleanup();
  }
});
