/**
 * SPM12's unequal-variance estimation against what SPM12 (r7771) wrote for two studies
 * (../shared/fixtures/spm12-twosample-4mm: two groups, covariates with a group interaction;
 * spm12-anova-4mm: one factor with three levels and a covariate). The Design is made from SPM's
 * own design matrix, scan order and factor matrix (test/spm12Designs.ts), so these tests check
 * the estimation alone: ReML hyperparameters, V, W, the whitened fit, its images, smoothness and
 * the results tables.
 *
 * Tolerances:
 * - h, V, W: 1e-9 relative (the issue asks 1e-5). SPM's spm_reml stops on a loose criterion
 *   (predicted change < 0.1), so h is reproducible only by following its iteration path; we do,
 *   and agree to ~1e-13.
 * - erdf, trRV, trRVRV: 1e-9 relative (all are n - rank up to rounding: SPM's are 19 - 3e-13).
 * - images: 1e-6 relative. SPM stores betas, con and T as float32 (half an ulp = 6e-8 relative)
 *   and our whitened fit is computed from sums rather than from W*Y, which changes rounding
 *   by ~1e-12; the issue asks 1e-4.
 * - FWHM and resels: 1e-9 relative, as for multiple regression.
 * - results tables: as test/results-spm12.test.ts (1e-5 relative on p-values, exact on voxels),
 *   and 1e-15 absolute on p-values: SPM computes them as 1 - cdf, so a p of 1e-11 carries its
 *   rounding (~3e-16); vbm computes upper tails directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { maxRelDiff, sharedDir, tempDir, needShared } from './helpers.js';
import { spmDesign } from './spm12Designs.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runResults } from '../src/pipeline/results.js';
import { readContrastsFile } from '../src/pipeline/contrastsFile.js';
import { openNifti, readVolume } from '../src/node/nifti/read.js';
import { describeAnalysis } from '../src/pipeline/show.js';
import { openAnalysis } from '../src/pipeline/analysis.js';
import { loadFittedModel } from '../src/pipeline/updateContrasts.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-300, Math.abs(b));

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

interface Expected {
  h: number[];
  V_diag: number[];
  W_diag: number[];
  erdf: number;
  trRV: number;
  trRVRV: number;
  nscan: number;
}

for (const name of ['spm12-twosample-4mm', 'spm12-anova-4mm']) {
  const fixture = join(sharedDir, 'fixtures', name);
  const skip = needShared || (existsSync(join(fixture, 'expected')) ? false : `${fixture} is absent`);
  test(`${name}: ReML, whitened fit, images, smoothness and results tables equal SPM12's`, { skip }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const exp = (f: string): string => join(fixture, 'expected', f);
      const design = spmDesign(fixture);
      const specs = readContrastsFile(join(fixture, 'case', 'contrasts.json'));
      const res = await runAnalysis({
        design: join(fixture, 'case', 'design.csv'),
        prebuiltDesign: design,
        out: dir,
        contrasts: specs,
        masking: { explicitMask: join(fixture, 'case', 'mask.nii.gz') },
        workers: 2,
      });
      // non-sphericity: hyperparameters, V and W (SPM's scan order = our design rows here)
      const e = JSON.parse(readFileSync(exp('nonsphericity.json'), 'utf8')) as Expected;
      const ns = res.record.nonSphericity;
      assert.ok(ns, 'model.json records the non-sphericity');
      assert.equal(ns.nComponents, e.h.length);
      assert.ok(maxRelDiff(ns.h, e.h) < 1e-9, `h ${String(ns.h)} vs SPM ${String(e.h)}`);
      assert.ok(maxRelDiff(ns.V, e.V_diag) < 1e-9, 'V diagonal');
      assert.ok(maxRelDiff(ns.W, e.W_diag) < 1e-9, 'W diagonal');
      assert.ok(rel(ns.erdf, e.erdf) < 1e-9, `erdf ${ns.erdf} vs ${e.erdf}`);
      assert.ok(rel(ns.trRV, e.trRV) < 1e-9, `trRV ${ns.trRV} vs ${e.trRV}`);
      assert.ok(rel(ns.trRVRV, e.trRVRV) < 1e-9, `trRVRV ${ns.trRVRV} vs ${e.trRVRV}`);
      assert.ok(ns.voxelsPooled > 0 && ns.voxelsPooled <= res.record.masking.voxels);
      // the mask, voxel for voxel
      const m1 = readVolume(join(dir, 'mask.nii')).data;
      const m2 = readVolume(exp('mask.nii.gz')).data;
      let differ = 0;
      for (let i = 0; i < m1.length; i++) if (m1[i] > 0 !== m2[i] > 0) differ++;
      assert.equal(differ, 0, 'mask voxels that differ from SPM');
      // every image SPM wrote: same datatype, values, NaN/0 outside
      const files = [
        ...design.columns.map((_, j) => `beta_${String(j + 1).padStart(4, '0')}.nii`),
        'ResMS.nii',
        'RPV.nii',
        ...specs.flatMap((s, i) => {
          const k = String(i + 1).padStart(4, '0');
          return s.type === 'T' ? [`con_${k}.nii`, `spmT_${k}.nii`] : [`ess_${k}.nii`, `spmF_${k}.nii`];
        }),
      ];
      for (const f of files) {
        const ours = openNifti(join(dir, f));
        const theirs = openNifti(exp(`${f}.gz`));
        assert.equal(ours.header.datatype.name, theirs.header.datatype.name, `${f} datatype`);
        const d = maxRelDiff(readVolume(join(dir, f)).data, readVolume(exp(`${f}.gz`)).data, 1e-6);
        assert.ok(d < 1e-6, `${f}: max relative difference ${d} (NaN pattern must agree)`);
      }
      // smoothness from the whitened model's standardised residuals
      const sm = JSON.parse(readFileSync(exp('smoothness.json'), 'utf8')) as {
        FWHM_vox: number[];
        R: number[];
        S: number;
      };
      assert.ok(
        maxRelDiff(res.record.smoothness.FWHM_vox, sm.FWHM_vox) < 1e-9,
        `FWHM ${String(res.record.smoothness.FWHM_vox)} vs ${String(sm.FWHM_vox)}`,
      );
      res.record.smoothness.R.forEach((r, i) => assert.ok(rel(r, sm.R[i]) < 1e-9, `R${i}: ${r} vs ${sm.R[i]}`));
      assert.equal(res.record.smoothness.S, sm.S);
      // contrasts carry the whitened model's df
      for (const c of res.record.contrasts)
        assert.ok(rel(c.df[1], e.erdf) < 1e-9, `contrast ${c.index} df ${String(c.df)}`);
      // the saved model gives back the whitened covariance of the estimates (for later contrasts)
      const loaded = loadFittedModel(dir);
      assert.ok(maxRelDiff(loaded.Bcov.flat(), res.fit.Bcov.flat()) < 1e-12, 'Bcov from model.json');
      assert.equal(loaded.df, res.fit.df);
      // vbm show prints the non-sphericity
      const shown = describeAnalysis(openAnalysis(dir));
      assert.match(shown, /Non-sphericity: \d+ variance components \(ReML\)/);
      assert.match(shown, new RegExp(`h = ${ns.h[0].toPrecision(6)}`));
      // the results tables, as SPM listed them
      specs.forEach((s, i) => {
        const k = i + 1;
        const tag = String(k).padStart(4, '0');
        const expected = JSON.parse(readFileSync(exp(`results_${tag}.json`), 'utf8')) as {
          u_stat: number;
          n_suprathreshold_voxels: number;
          uc_FWEp_FDRp_FWEc_FDRc: (number | null)[];
          footer: string[];
        };
        const out = runResults(dir, { contrast: k, threshold: 0.001, correction: 'none', extent: 10 });
        const t = out.table;
        assert.ok(rel(t.height.u, expected.u_stat) < 1e-7, `contrast ${k}: u ${t.height.u} vs ${expected.u_stat}`);
        assert.equal(t.suprathreshold, expected.n_suprathreshold_voxels, `contrast ${k}: suprathreshold voxels`);
        const [FWEp, FDRp, FWEc, FDRc] = expected.uc_FWEp_FDRp_FWEc_FDRc;
        assert.ok(rel(t.critical.FWEp, FWEp as number) < 1e-7, `contrast ${k}: FWEp ${t.critical.FWEp}`);
        if (FDRp === null) assert.equal(t.critical.FDRp, Infinity);
        else assert.ok(rel(t.critical.FDRp, FDRp) < 1e-6, `contrast ${k}: FDRp ${t.critical.FDRp} vs ${FDRp}`);
        // SPM's Inf is null in JSON
        assert.equal(t.critical.FWEc, FWEc ?? Infinity, `contrast ${k}: FWEc`);
        assert.equal(t.critical.FDRc, FDRc ?? Infinity, `contrast ${k}: FDRc`);
        const footer = out.text.split('\n');
        for (const line of expected.footer) {
          const normalised = line.replace(' mm mm mm', ' mm');
          assert.ok(footer.includes(normalised), `contrast ${k}: footer line missing: ${normalised}`);
        }
        const spm = parseCsv(readFileSync(exp(`peaks_${tag}.csv`), 'utf8'));
        const mine = parseCsv(readFileSync(join(dir, `table_${tag}.csv`), 'utf8'));
        assert.equal(mine.length, spm.length, `contrast ${k}: number of peaks`);
        spm.forEach((row, r) => {
          for (const [col, v] of Object.entries(row)) {
            if (v === '') {
              assert.equal(mine[r][col] ?? '', '', `contrast ${k} row ${r + 1} ${col} should be empty`);
              continue;
            }
            const tol = /^(i|j|k)_vox0$|^cluster$|^set_c$|^cluster_k$|_mm$/.test(col) ? 0 : 1e-5;
            // SPM takes p = 1 - cdf, exact only to a few eps absolute (1.1e-11 comes out 2.8e-16 off)
            const absolute = /_p_|_q_|^set_p$/.test(col) ? 1e-15 : 0;
            const a = Number(mine[r][col]);
            const b = Number(v);
            assert.ok(
              rel(a, b) <= tol || Math.abs(a - b) <= absolute,
              `contrast ${k} row ${r + 1} ${col}: ${mine[r][col]} vs SPM ${v}`,
            );
          }
        });
        const stat = s.type === 'T' ? 'spmT' : 'spmF';
        const a = readVolume(join(dir, `${stat}_${tag}_thresh.nii`)).data;
        const b = readVolume(exp(`${stat}_${tag}_thresh.nii.gz`)).data;
        for (let v = 0; v < a.length; v++) {
          assert.equal(Number.isNaN(a[v]), Number.isNaN(b[v]), `contrast ${k}: thresholded voxel ${v}`);
          if (!Number.isNaN(b[v]))
            assert.ok(rel(a[v], b[v]) < 1e-6, `contrast ${k}: thresholded value ${v}: ${a[v]} vs ${b[v]}`);
        }
      });
    } finally {
      cleanup();
    }
  });
}
