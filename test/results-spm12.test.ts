/**
 * vbm results against SPM12's Results on the fixture study: the same clusters (same k), the
 * same peaks in the same order, and the p-values, Z, thresholds and footer facts SPM printed.
 * Tolerance 1e-5 relative (the issue asks 1e-3): SPM's own thresholds come from a Newton
 * iteration stopped at 1e-6, and the fixture CSV keeps 10 digits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureDir, needShared, tempDir } from './helpers.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runResults } from '../src/pipeline/results.js';
import { readContrastsFile } from '../src/pipeline/contrastsFile.js';
import { readVolume } from '../src/node/nifti/read.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-300, Math.abs(b));

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

test(
  'results tables, thresholds and thresholded maps equal SPM12 for T and F contrasts',
  { skip: needShared },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      await runAnalysis({
        design: join(fixtureDir, 'case', 'design.csv'),
        out: dir,
        contrasts: readContrastsFile(join(fixtureDir, 'case', 'contrasts.json')),
        masking: { explicitMask: join(fixtureDir, 'case', 'mask.nii.gz') },
      });
      const sm = JSON.parse(readFileSync(join(fixtureDir, 'expected', 'smoothness.json'), 'utf8')) as {
        R: number[];
        S: number;
      };
      const ours = JSON.parse(readFileSync(join(dir, 'smoothness.json'), 'utf8')) as { R: number[]; S: number };
      ours.R.forEach((r, i) => assert.ok(rel(r, sm.R[i]) < 1e-9, `R${i}: ${r} vs ${sm.R[i]}`));
      assert.equal(ours.S, sm.S);
      for (const k of [1, 2, 3]) {
        const expected = JSON.parse(readFileSync(join(fixtureDir, 'expected', `results_000${k}.json`), 'utf8')) as {
          u_stat: number;
          n_suprathreshold_voxels: number;
          uc_FWEp_FDRp_FWEc_FDRc: (number | null)[];
          footer: string[];
        };
        const out = runResults(dir, { contrast: k, threshold: 0.001, correction: 'none', extent: 10 });
        const t = out.table;
        assert.ok(rel(t.height.u, expected.u_stat) < 1e-7, `u ${t.height.u} vs ${expected.u_stat}`);
        assert.equal(t.suprathreshold, expected.n_suprathreshold_voxels);
        const [FWEp, FDRp, FWEc, FDRc] = expected.uc_FWEp_FDRp_FWEc_FDRc;
        assert.ok(rel(t.critical.FWEp, FWEp as number) < 1e-7, `FWEp ${t.critical.FWEp}`);
        if (FDRp === null) assert.equal(t.critical.FDRp, Infinity);
        else assert.ok(rel(t.critical.FDRp, FDRp) < 1e-6);
        assert.equal(t.critical.FWEc, FWEc);
        assert.equal(t.critical.FDRc, FDRc);
        // SPM's footer lines, as printed (they round to the digits SPM shows)
        const footer = out.text.split('\n');
        for (const line of expected.footer) {
          const normalised = line
            .replace(' mm mm mm', ' mm')
            .replace('FWEp: 43.268, FDRp: Inf', 'FWEp: 43.268, FDRp: Inf');
          assert.ok(footer.includes(normalised), `footer line missing: ${normalised}`);
        }
        // the table, row by row
        const spm = parseCsv(readFileSync(join(fixtureDir, 'expected', `peaks_000${k}.csv`), 'utf8'));
        const mine = parseCsv(readFileSync(join(dir, `table_000${k}.csv`), 'utf8'));
        assert.equal(mine.length, spm.length, 'number of peaks');
        spm.forEach((row, i) => {
          const r = mine[i];
          for (const [col, v] of Object.entries(row)) {
            if (v === '') {
              assert.equal(r[col] ?? '', '', `row ${i + 1} ${col} should be empty`);
              continue;
            }
            const tol = /^(i|j|k)_vox0$|^cluster$|^set_c$|^cluster_k$|_mm$/.test(col) ? 0 : 1e-5;
            assert.ok(rel(Number(r[col]), Number(v)) <= tol, `row ${i + 1} ${col}: ${r[col]} vs SPM ${v}`);
          }
        });
        // the thresholded map: same voxels, same values, NaN elsewhere
        const stat = k === 3 ? 'spmF' : 'spmT';
        const a = readVolume(join(dir, `${stat}_000${k}_thresh.nii`)).data;
        const b = readVolume(join(fixtureDir, 'expected', `${stat}_000${k}_thresh.nii`)).data;
        for (let i = 0; i < a.length; i++) {
          assert.equal(Number.isNaN(a[i]), Number.isNaN(b[i]), `thresholded voxel ${i}`);
          if (!Number.isNaN(b[i]))
            assert.ok(
              rel(a[i], b[i]) < 1e-6,
              `thresholded value ${i}: ${a[i]} vs ${b[i]} (our T differs from SPM by float32 rounding)`,
            );
        }
      }
    } finally {
      cleanup();
    }
  },
);
