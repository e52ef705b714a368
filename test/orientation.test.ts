/**
 * Left-right safety: the same study stored LAS (x decreasing along i, as SPM writes) and RAS
 * (the data mirrored along i, the affine mirrored to match) must give the same world-space
 * results: same mask, same T at every mm position, same smoothness, peaks on the same side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readVolume } from '../src/node/nifti/read.js';
import { applyAffine } from '../src/io/nifti/affine.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runPermute } from '../src/pipeline/permute.js';
import { runPlot } from '../src/pipeline/plot.js';

/** Mirror a volume along i and give it the affine that keeps every voxel at its mm position. */
function toRas(
  data: ArrayLike<number>,
  dims: number[],
  affine: number[][],
): { data: Float32Array; affine: number[][] } {
  const [nx, ny, nz] = dims;
  const out = new Float32Array(data.length);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) out[nx - 1 - i + nx * (j + ny * k)] = data[i + nx * (j + ny * k)];
  const a = affine.map((r) => r.slice());
  for (let r = 0; r < 3; r++) {
    a[r][3] = affine[r][0] * (nx - 1) + affine[r][3];
    a[r][0] = -affine[r][0];
  }
  return { data: out, affine: a };
}

test('LAS and RAS storage of the same study give identical world-space maps and smoothness', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({
      n: 12,
      dims: [30, 36, 30],
      voxelMm: 6,
      noiseFwhmMm: 14,
      seed: 8,
      effects: [{ covariate: 'age', centreMm: [40, -20, 10], sigmaMm: 10, perSd: 0.08 }],
    });
    const las = join(dir, 'las');
    const design = writeCohort(las, cohort, { format: 'nii' });
    writeFileSync(join(las, 'mask.nii'), templateMask(cohort));
    // RAS copy of every scan and of the mask
    const ras = join(dir, 'ras');
    mkdirSync(join(ras, 'scans'), { recursive: true });
    const n = cohort.covariates.age.length;
    const lines = ['scan,age'];
    for (let i = 0; i < n; i++) {
      const v = readVolume(join(las, 'scans', `smwc1sub-${String(i + 1).padStart(4, '0')}.nii`));
      const r = toRas(v.data, v.dims, v.affine);
      writeFileSync(join(ras, 'scans', `s${i}.nii`), encodeNifti({ dims: v.dims, affine: r.affine, data: r.data }));
      lines.push(`scans/s${i}.nii,${cohort.covariates.age[i]}`);
    }
    writeFileSync(join(ras, 'design.csv'), lines.join('\n'));
    const mv = readVolume(join(las, 'mask.nii'));
    const mr = toRas(mv.data, mv.dims, mv.affine);
    writeFileSync(join(ras, 'mask.nii'), encodeNifti({ dims: mv.dims, affine: mr.affine, data: mr.data }));
    const contrasts = [{ name: 'age', type: 'T' as const, columns: ['age'], weights: [1] }];
    const a = await runAnalysis({
      design,
      out: join(dir, 'out-las'),
      covariates: ['age'],
      contrasts,
      masking: { explicitMask: join(las, 'mask.nii') },
      workers: 2,
    });
    const b = await runAnalysis({
      design: join(ras, 'design.csv'),
      out: join(dir, 'out-ras'),
      contrasts,
      masking: { explicitMask: join(ras, 'mask.nii') },
      workers: 2,
    });
    assert.equal(a.record.masking.voxels, b.record.masking.voxels);
    assert.equal(a.record.grid.affine[0][0], -6);
    assert.equal(b.record.grid.affine[0][0], 6);
    // smoothness along the mirrored axis is the same: mirroring changes forward differences to backward ones,
    // and which mask-edge voxels have all forward neighbours, so agreement is to ~1%, not to rounding
    for (let d = 0; d < 3; d++) {
      const r = a.record.smoothness.FWHM_mm[d] / b.record.smoothness.FWHM_mm[d];
      assert.ok(
        Math.abs(r - 1) < 0.02,
        `FWHM axis ${d}: ${a.record.smoothness.FWHM_mm[d]} vs ${b.record.smoothness.FWHM_mm[d]}`,
      );
    }
    const ta = readVolume(join(dir, 'out-las', 'spmT_0001.nii'));
    const tb = readVolume(join(dir, 'out-ras', 'spmT_0001.nii'));
    const [nx, ny, nz] = ta.dims;
    let maxIdx = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const ia = i + nx * (j + ny * k);
          // the voxel of the RAS image at the same mm position
          const [x, y, z] = applyAffine(ta.affine, i, j, k);
          const ib = Math.round((x - tb.affine[0][3]) / tb.affine[0][0]) + nx * (j + ny * k);
          void y;
          void z;
          assert.ok(
            Math.abs(ta.data[ia] - tb.data[ib]) <= 1e-5 * Math.max(1, Math.abs(ta.data[ia])),
            `T at voxel ${i},${j},${k}`,
          );
          if (ta.data[ia] > ta.data[maxIdx]) maxIdx = ia;
        }
    // the planted effect is in the right hemisphere (x > 0) in both
    const mi = maxIdx % nx;
    const [px] = applyAffine(ta.affine, mi, 0, 0);
    assert.ok(px > 20, `peak at x = ${px} mm, planted at +40`);
    // pictures: slices over the mean of the scans and the glass brain, identical pixel for pixel
    // where the maps agree to rounding (the colours of T values 1e-5 apart may differ by one level)
    for (const kind of ['slices', 'glass'] as const) {
      const pics = await Promise.all(
        ['out-las', 'out-ras'].map(async (o) => {
          const r = await runPlot(join(dir, o), {
            kind,
            contrast: 1,
            threshold: 2.5,
            display: 'ortho',
            out: join(dir, `${o}-${kind}.png`),
          });
          return PNG.sync.read(readFileSync(r.file));
        }),
      );
      assert.equal(pics[0].width, pics[1].width);
      let differ = 0;
      let coloured = 0;
      for (let o = 0; o < pics[0].data.length; o += 4) {
        const d = Math.max(...[0, 1, 2].map((c) => Math.abs(pics[0].data[o + c] - pics[1].data[o + c])));
        assert.ok(d <= 1, `${kind}: pixel ${o / 4} differs by ${d}`);
        if (d) differ++;
        if (pics[0].data[o] !== pics[0].data[o + 2]) coloured++;
      }
      assert.ok(coloured > 100, `${kind}: ${coloured} coloured pixels`);
      assert.ok(differ < 20, `${kind}: ${differ} pixels differ by one level`);
    }
    // permutation inference: same seed, same p-values at every mm position, same cluster table
    const pa = await runPermute(join(dir, 'out-las'), {
      contrast: 1,
      permutations: 60,
      seed: 3,
      tfce: true,
      clusterThreshold: 0.01,
      workers: 0,
    });
    const pb = await runPermute(join(dir, 'out-ras'), {
      contrast: 1,
      permutations: 60,
      seed: 3,
      tfce: true,
      clusterThreshold: 0.01,
      workers: 0,
    });
    assert.deepEqual(
      pa.clusters.map((c) => [c.voxels, c.mm]),
      pb.clusters.map((c) => [c.voxels, c.mm]),
    );
    assert.ok(pa.clusters.length > 0 && pa.clusters[0].mm[0] > 20, 'the planted cluster, on the right');
    const fa = readVolume(join(dir, 'out-las', 'perm_0001_tfce_p_fwe.nii'));
    const fb = readVolume(join(dir, 'out-ras', 'perm_0001_tfce_p_fwe.nii'));
    for (let idx = 0; idx < fa.data.length; idx++) {
      const i = idx % nx;
      const ib = nx - 1 - i + (idx - i);
      assert.ok(
        Object.is(fa.data[idx], fb.data[ib]) || Math.abs(fa.data[idx] - fb.data[ib]) < 1e-9,
        `TFCE p at voxel ${idx}`,
      );
    }
  } finally {
    cleanup();
  }
});
