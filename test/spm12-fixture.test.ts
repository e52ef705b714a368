/**
 * vbm against what SPM12 (r7771) wrote for the same study (../shared/fixtures/spm12-mreg-4mm).
 * SPM's files are an independent reference: another implementation, another language.
 *
 * Tolerance: SPM stores betas, con and T as float32, so a faithful float64 computation differs
 * from them by up to ~6e-8 relative (half an ulp of float32); T and F carry the rounding of
 * con and ResMS too. We require < 1e-6 (the issue asks for 1e-4), i.e. "float32-identical".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureDir, needShared, tempDir, maxRelDiff } from './helpers.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { readContrastsFile } from '../src/pipeline/contrastsFile.js';
import { openNifti, readVolume } from '../src/node/nifti/read.js';

const TOL = 1e-6;

test(
  'vbm run reproduces SPM12 on the fixture study: mask, betas, ResMS, RPV, con, T, F, smoothness',
  { skip: needShared },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const res = await runAnalysis({
        design: join(fixtureDir, 'case', 'design.csv'),
        out: dir,
        contrasts: readContrastsFile(join(fixtureDir, 'case', 'contrasts.json')),
        masking: { explicitMask: join(fixtureDir, 'case', 'mask.nii.gz') },
        workers: 2,
      });
      const exp = (f: string): string => join(fixtureDir, 'expected', f);
      // design: same columns and same matrix as SPM's X
      const cols = readFileSync(exp('design_columns.txt'), 'utf8').trim().split(/\r?\n/);
      assert.deepEqual(res.design.columns, cols);
      const X = readFileSync(exp('design_matrix.csv'), 'utf8')
        .trim()
        .split(/\r?\n/)
        .slice(1)
        .map((l) => l.split(',').map(Number));
      assert.ok(maxRelDiff(res.design.X.flat(), X.flat(), 1e-9) < 1e-12, 'design matrix');
      // the analysis mask is identical voxel for voxel
      const m1 = readVolume(join(dir, 'mask.nii')).data;
      const m2 = readVolume(exp('mask.nii')).data;
      let differ = 0;
      for (let i = 0; i < m1.length; i++) if (m1[i] > 0 !== m2[i] > 0) differ++;
      assert.equal(differ, 0, 'mask voxels that differ from SPM');
      // every image: same datatype as SPM's, same values, same NaN/0 convention outside
      for (const f of [
        'beta_0001.nii',
        'beta_0002.nii',
        'beta_0003.nii',
        'ResMS.nii',
        'RPV.nii',
        'con_0001.nii',
        'con_0002.nii',
        'spmT_0001.nii',
        'spmT_0002.nii',
        'ess_0003.nii',
        'spmF_0003.nii',
      ]) {
        const ours = openNifti(join(dir, f));
        const theirs = openNifti(exp(f));
        assert.equal(ours.header.datatype.name, theirs.header.datatype.name, `${f} datatype`);
        const a = readVolume(join(dir, f)).data;
        const b = readVolume(exp(f)).data;
        const d = maxRelDiff(a, b, 1e-6);
        assert.ok(d < TOL, `${f}: max relative difference ${d} (NaN pattern must agree)`);
        assert.deepEqual(ours.header.affine, theirs.header.affine, `${f} affine`);
      }
      // smoothness: SPM's FWHM in voxels
      const sm = JSON.parse(readFileSync(exp('smoothness.json'), 'utf8')) as {
        FWHM_vox: number[];
        FWHM_mm: number[];
        S: number;
        df: number;
      };
      assert.ok(
        maxRelDiff(res.record.smoothness.FWHM_vox, sm.FWHM_vox) < 1e-9,
        `FWHM ${String(res.record.smoothness.FWHM_vox)} vs ${String(sm.FWHM_vox)}`,
      );
      assert.ok(maxRelDiff(res.record.smoothness.FWHM_mm, sm.FWHM_mm) < 1e-9);
      assert.equal(res.record.masking.voxels, sm.S);
      assert.equal(res.record.design.df, Math.round(sm.df));
    } finally {
      cleanup();
    }
  },
);
