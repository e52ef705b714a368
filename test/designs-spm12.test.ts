/**
 * vbm's designs against what SPM12 (r7771) built and estimated for the same studies
 * (../shared/fixtures/spm12-{twosample,anova,paired,globals}-4mm): SPM's files are an independent
 * reference (another implementation, another language).
 *
 * Design matrices: every entry within 1e-10 (SPM's CSV keeps 17 digits; centring and scaling are
 * a few double operations), rows in SPM's scan order (scans.csv), columns mapped to SPM's names.
 * Whole runs (i.i.d. designs: paired and the three global options): the analysis mask identical;
 * betas, ResMS, RPV, con, T, F within 1e-4 relative (the bound), with one allowance: SPM
 * computes con, ess, T and F from its float32 beta images, so where a contrast cancels (a paired
 * difference of two large condition betas) a one-ulp difference in a float32 beta is a large
 * relative difference in con; the allowance is exactly one float32 ulp per beta entering the
 * contrast. gSF and globals within 1e-6 relative (in fact they are equal); df exact; FWHM and
 * resels within 1e-9; results tables as in results-spm12.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { needShared, sharedDir, tempDir } from './helpers.js';
import { readTable } from '../src/node/spreadsheet.js';
import { type DesignOptions, designMatrix } from '../src/model/designMatrix.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runResults } from '../src/pipeline/results.js';
import { readContrastsFile } from '../src/pipeline/contrastsFile.js';
import { readVolume } from '../src/node/nifti/read.js';
import type { ThresholdMasking } from '../src/estimation/masking.js';

const fixture = (name: string): string => join(sharedDir, 'fixtures', name);
const lines = (path: string): string[] => readFileSync(path, 'utf8').trim().split(/\r?\n/);
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-300, Math.abs(b));

interface Case {
  fixture: string;
  expected: string;
  opts: DesignOptions;
  explicitMask: boolean;
  threshold?: ThresholdMasking;
}

const TWO_SAMPLE: Case = {
  fixture: 'spm12-twosample-4mm',
  expected: 'expected',
  opts: {
    model: 'two_sample',
    factor: 'group',
    levels: ['control', 'patient'],
    covariates: ['age', 'tiv'],
    interactions: { age: 'group' },
    centring: { age: 'factor', tiv: 'mean' },
  },
  explicitMask: true,
};
const ANOVA: Case = {
  fixture: 'spm12-anova-4mm',
  expected: 'expected',
  opts: { model: 'anova', factor: 'dx', levels: ['CN', 'MCI', 'AD'], covariates: ['age'] },
  explicitMask: true,
};
const PAIRED: Case = {
  fixture: 'spm12-paired-4mm',
  expected: 'expected',
  opts: { model: 'paired', subject: 'subject', condition: 'timepoint' },
  explicitMask: true,
};
const PROPORTIONAL: Case = {
  fixture: 'spm12-globals-4mm',
  expected: 'expected',
  opts: {
    covariates: ['age', 'patient'],
    globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 50, normalisation: 'proportional' },
  },
  explicitMask: true,
};
const ANCOVA: Case = {
  ...PROPORTIONAL,
  expected: 'expected-ancova',
  opts: {
    ...PROPORTIONAL.opts,
    globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 50, normalisation: 'ancova' },
  },
};
const GMEAN: Case = {
  fixture: 'spm12-globals-4mm',
  expected: 'expected-gmean',
  opts: {
    covariates: ['age', 'patient'],
    globals: { calculation: 'mean', grandMeanScaling: 'no', normalisation: 'proportional' },
  },
  explicitMask: false,
  threshold: { type: 'relative', value: 0.8 },
};

function expectedFile(c: Case, f: string): string {
  return join(fixture(c.fixture), c.expected, f);
}

/** The design against SPM's X, scan order and column names. */
async function checkDesign(c: Case, globalValues?: number[]) {
  const table = await readTable(join(fixture(c.fixture), 'case', 'design.csv'));
  const d = designMatrix(table, { ...c.opts, globalValues });
  const X = lines(expectedFile(c, 'design_matrix.csv'))
    .slice(1)
    .map((l) => l.split(',').map(Number));
  const spmCols = lines(expectedFile(c, 'design_columns.txt'));
  const scans = lines(expectedFile(c, 'scans.csv'))
    .slice(1)
    .map((l) => l.split(','));
  assert.deepEqual(
    d.columnInfo.map((ci) => ci.spmName),
    spmCols,
    'columns map to SPM names, in SPM order',
  );
  assert.deepEqual(
    d.rows.map((r) => r - 1),
    scans.map((s) => Number(s[1])),
    "rows in SPM's scan order (scans.csv csv_row)",
  );
  assert.deepEqual(
    d.scanLabels,
    scans.map((s) => s[2]),
  );
  assert.equal(X.length, d.n);
  X.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(
        Math.abs(d.X[i][j] - v) <= 1e-10 * Math.max(1, Math.abs(v)),
        `X[${i + 1}][${spmCols[j]}] = ${d.X[i][j]}, SPM ${v}`,
      ),
    ),
  );
  return d;
}

test(
  'two-sample design (unequal variance, age x group centred within groups, tiv) equals SPM12 X; roles, variance groups, names',
  { skip: needShared },
  async () => {
    const d = await checkDesign(TWO_SAMPLE);
    assert.deepEqual(d.columns, [
      'group[control]',
      'group[patient]',
      'age:group[control]',
      'age:group[patient]',
      'tiv',
    ]);
    assert.deepEqual(d.roles, ['H', 'H', 'C', 'C', 'C']);
    const I2 = lines(expectedFile(TWO_SAMPLE, 'scans.csv'))
      .slice(1)
      .map((l) => Number(l.split(',')[4]) - 1);
    assert.deepEqual([...(d.varianceGroups ?? [])], I2, "variance group = SPM's group index (I2)");
    assert.equal(d.globalScale, undefined);
    assert.equal(d.df, 19);
  },
);

test(
  'one-factor ANOVA design (3 levels) equals SPM12 X (full factorial); variance groups by level',
  { skip: needShared },
  async () => {
    const d = await checkDesign(ANOVA);
    assert.deepEqual(d.columns, ['dx[CN]', 'dx[MCI]', 'dx[AD]', 'age']);
    assert.deepEqual(d.roles, ['H', 'H', 'H', 'C']);
    const I2 = lines(expectedFile(ANOVA, 'scans.csv'))
      .slice(1)
      .map((l) => Number(l.split(',')[4]) - 1);
    assert.deepEqual([...(d.varianceGroups ?? [])], I2);
    assert.equal(d.df, 20);
    const equal = designMatrix(await readTable(join(fixture(ANOVA.fixture), 'case', 'design.csv')), {
      ...ANOVA.opts,
      variance: 'equal',
    });
    assert.equal(equal.varianceGroups, undefined, 'variance: equal is one component');
  },
);

test(
  'paired design equals SPM12 X: pair by pair, conditions (H) then subjects (B), one variance component',
  { skip: needShared },
  async () => {
    const d = await checkDesign(PAIRED);
    assert.deepEqual(d.columns.slice(0, 3), ['timepoint[baseline]', 'timepoint[followup]', 'subject[sub-0001]']);
    assert.deepEqual(d.roles, ['H', 'H', ...new Array<string>(10).fill('B')]);
    assert.equal(d.varianceGroups, undefined);
    assert.equal(d.df, 9);
  },
);

test(
  'global scaling designs equal SPM12: proportional (user TIV) and ANCOVA (global column, role G), gSF',
  { skip: needShared },
  async () => {
    for (const c of [PROPORTIONAL, ANCOVA]) {
      const d = await checkDesign(c);
      const g = JSON.parse(readFileSync(expectedFile(c, 'globals.json'), 'utf8')) as {
        rg: number[];
        gSF: number[];
        GM: number;
        gc: number[];
      };
      assert.equal(d.globals?.GM, g.GM);
      d.globals.gSF.forEach((v, i) => assert.ok(rel(v, g.gSF[i]) < 1e-6, `gSF ${i}`));
      d.globals.raw.forEach((v, i) => assert.ok(rel(v, g.rg[i]) < 1e-6, `rg ${i}`));
      if (c === ANCOVA) {
        assert.deepEqual(d.roles, ['H', 'C', 'C', 'G']);
        assert.ok(rel(d.globals.centre!, g.gc[0]) < 1e-12);
      } else assert.deepEqual(d.roles, ['H', 'C', 'C']);
      assert.ok(d.globalScale && d.globalScale.length === d.n);
    }
  },
);

/** Check one of our images against SPM's; for con/T/F, allow one float32 ulp per beta entering the contrast (see the header). */
function compareImage(
  dir: string,
  c: Case,
  f: string,
  weights: number[][] | undefined,
  spmBetas: Float32Array[],
): void {
  const a = readVolume(join(dir, f)).data;
  const b = readVolume(expectedFile(c, `${f}.gz`)).data;
  // values that are rounding noise of a zero (|y| below 1e-12 of the image's largest) compare absolutely
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) if (Math.abs(b[i]) > maxAbs) maxAbs = Math.abs(b[i]);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      assert.equal(Number.isNaN(x), Number.isNaN(y), `${f}: NaN pattern differs at voxel ${i}`);
      continue;
    }
    let allowance = 0;
    if (weights && y !== 0) {
      // h = C b over SPM's float32 betas and one ulp (2^-23 |b|) of slack per beta it uses
      let worstRatio = 0;
      for (const row of weights) {
        let h = 0;
        let slack = 0;
        row.forEach((w, j) => {
          h += w * spmBetas[j][i];
          slack += Math.abs(w) * Math.abs(spmBetas[j][i]) * 2 ** -23;
        });
        if (h !== 0) worstRatio = Math.max(worstRatio, slack / Math.abs(h));
      }
      // con and T scale with h, ess and F with h^2
      const power = /^(ess|spmF)/.test(f) ? 2 : 1;
      allowance = Math.abs(y) * ((1 + worstRatio) ** power - 1);
    }
    const d = Math.abs(x - y);
    assert.ok(d <= 1e-4 * Math.abs(y) + allowance + 1e-12 * maxAbs, `${f} voxel ${i}: ${x} vs SPM ${y}`);
  }
}

async function runAndCompare(c: Case): Promise<void> {
  const { dir, cleanup } = tempDir('vbm-designs-');
  try {
    const res = await runAnalysis({
      design: join(fixture(c.fixture), 'case', 'design.csv'),
      out: dir,
      contrasts: readContrastsFile(join(fixture(c.fixture), 'case', 'contrasts.json')),
      masking: {
        explicitMask: c.explicitMask ? join(fixture(c.fixture), 'case', 'mask.nii.gz') : undefined,
        threshold: c.threshold,
      },
      workers: 2,
      ...c.opts,
    });
    // the design again (calculation 'mean': with the globals the run computed, checked against SPM's below; multiple regression keeps the spreadsheet's order)
    await checkDesign(c, c.opts.globals?.calculation === 'mean' ? res.record.design.globals!.raw : undefined);
    // the analysis mask, voxel for voxel
    const m1 = readVolume(join(dir, 'mask.nii')).data;
    const m2 = readVolume(expectedFile(c, 'mask.nii.gz')).data;
    let differ = 0;
    for (let i = 0; i < m1.length; i++) if (m1[i] > 0 !== m2[i] > 0) differ++;
    assert.equal(differ, 0, 'mask voxels that differ from SPM');
    // globals: raw values, gSF and the per-scan thresholds
    const g = JSON.parse(readFileSync(expectedFile(c, 'globals.json'), 'utf8')) as {
      rg: number[];
      gSF: number[];
      GM: number;
      xM: { TH: (number | null)[] };
    };
    const ours = res.record.design.globals;
    if (g.rg.length) {
      assert.ok(ours, 'globals recorded in model.json');
      ours.raw.forEach((v, i) => assert.ok(rel(v, g.rg[i]) < 1e-6, `global ${i}: ${v} vs SPM ${g.rg[i]}`));
      ours.gSF.forEach((v, i) => assert.ok(rel(v, g.gSF[i]) < 1e-6, `gSF ${i}: ${v} vs SPM ${g.gSF[i]}`));
      assert.equal(ours.GM, g.GM);
    } else assert.equal(ours, undefined);
    // every image SPM wrote
    const spmBetas = res.design.columns.map(
      (_, j) => readVolume(expectedFile(c, `beta_${String(j + 1).padStart(4, '0')}.nii.gz`)).data as Float32Array,
    );
    const files = readdirSync(join(fixture(c.fixture), c.expected)).filter((f) =>
      /^(beta_\d{4}|ResMS|RPV|con_\d{4}|ess_\d{4}|spmT_\d{4}|spmF_\d{4})\.nii\.gz$/.test(f),
    );
    assert.ok(files.length >= 8);
    for (const gz of files) {
      const f = gz.replace(/\.gz$/, '');
      const k = /_(\d{4})\.nii$/.exec(f);
      const con = k && /^(con|ess|spmT|spmF)/.test(f) ? res.record.contrasts[Number(k[1]) - 1] : undefined;
      compareImage(dir, c, f, con?.weights, spmBetas);
    }
    // df, smoothness and resels
    const sm = JSON.parse(readFileSync(expectedFile(c, 'smoothness.json'), 'utf8')) as {
      FWHM_vox: number[];
      R: number[];
      S: number;
      df: number;
    };
    assert.equal(res.record.design.df, Math.round(sm.df));
    res.record.smoothness.FWHM_vox.forEach((v, i) =>
      assert.ok(rel(v, sm.FWHM_vox[i]) < 1e-9, `FWHM ${i}: ${v} vs ${sm.FWHM_vox[i]}`),
    );
    res.record.smoothness.R.forEach((v, i) => assert.ok(rel(v, sm.R[i]) < 1e-9, `R${i}: ${v} vs ${sm.R[i]}`));
    assert.equal(res.record.masking.voxels, sm.S);
    // results tables: the same clusters and peaks, p-values and thresholds
    for (const contrast of res.record.contrasts) {
      const k = String(contrast.index).padStart(4, '0');
      const expected = JSON.parse(readFileSync(expectedFile(c, `results_${k}.json`), 'utf8')) as {
        u_stat: number;
        n_suprathreshold_voxels: number;
        uc_FWEp_FDRp_FWEc_FDRc: (number | null)[];
      };
      const out = runResults(dir, { contrast: contrast.index, threshold: 0.001, correction: 'none', extent: 10 });
      const t = out.table;
      assert.ok(rel(t.height.u, expected.u_stat) < 1e-7, `u ${t.height.u} vs ${expected.u_stat}`);
      assert.equal(
        t.suprathreshold,
        expected.n_suprathreshold_voxels,
        `contrast ${contrast.index}: suprathreshold voxels`,
      );
      const [FWEp, FDRp, FWEc, FDRc] = expected.uc_FWEp_FDRp_FWEc_FDRc;
      assert.ok(rel(t.critical.FWEp, FWEp as number) < 1e-7);
      if (FDRp === null) assert.equal(t.critical.FDRp, Infinity);
      else assert.ok(rel(t.critical.FDRp, FDRp) < 1e-6);
      assert.ok(
        FWEc === null ? !Number.isFinite(t.critical.FWEc) : Math.abs(t.critical.FWEc - FWEc) < 1e-6,
        `FWEc ${t.critical.FWEc} vs ${FWEc}`,
      );
      assert.ok(
        FDRc === null ? !Number.isFinite(t.critical.FDRc) : Math.abs(t.critical.FDRc - FDRc) < 1e-6,
        `FDRc ${t.critical.FDRc} vs ${FDRc}`,
      );
      const parse = (text: string): Record<string, string>[] => {
        const [head, ...rows] = text.trim().split(/\r?\n/);
        const cols = head.split(',');
        return rows.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
      };
      const spm = parse(readFileSync(expectedFile(c, `peaks_${k}.csv`), 'utf8'));
      const mine = parse(readFileSync(join(dir, `table_${k}.csv`), 'utf8'));
      assert.equal(mine.length, spm.length, `contrast ${contrast.index}: number of peaks`);
      spm.forEach((row, i) => {
        for (const [col, v] of Object.entries(row)) {
          if (v === '') {
            assert.equal(mine[i][col] ?? '', '', `row ${i + 1} ${col} should be empty`);
            continue;
          }
          const tol = /^(i|j|k)_vox0$|^cluster$|^set_c$|^cluster_k$|_mm$/.test(col) ? 0 : 1e-4;
          // p-values below 1e-15 are zero to SPM (its set-level p underflows to 0 where ours is 1e-39)
          const absolute = /_p_|_q_|^set_p$/.test(col) ? 1e-15 : 0;
          const a = Number(mine[i][col]);
          const b = Number(v);
          assert.ok(
            rel(a, b) <= tol || Math.abs(a - b) <= absolute,
            `contrast ${contrast.index} row ${i + 1} ${col}: ${mine[i][col]} vs SPM ${v}`,
          );
        }
      });
    }
  } finally {
    cleanup();
  }
}

test('vbm run reproduces SPM12: proportional scaling by user globals (TIV), grand mean 50', { skip: needShared }, () =>
  runAndCompare(PROPORTIONAL),
);
test('vbm run reproduces SPM12: ANCOVA by user globals (global column)', { skip: needShared }, () =>
  runAndCompare(ANCOVA),
);
test(
  "vbm run reproduces SPM12: mean globals (spm_global), proportional to 50 with grand mean scaling 'no', relative threshold 0.8 on the scaled data",
  { skip: needShared },
  () => runAndCompare(GMEAN),
);
test('vbm run reproduces SPM12: paired t-test', { skip: needShared }, () => runAndCompare(PAIRED));

// The unequal-variance designs end to end: vbm's own design builder (not SPM's matrix) feeding
// the ReML estimation, compared with every image and table SPM12 wrote, and with SPM's ReML
// hyperparameters (1e-5 relative, the bound; ReML converges well below it).
async function runUnequal(c: Case): Promise<void> {
  await runAndCompare(c);
  const { dir, cleanup } = tempDir('vbm-designs-h-');
  try {
    const res = await runAnalysis({
      design: join(fixture(c.fixture), 'case', 'design.csv'),
      out: dir,
      masking: { explicitMask: join(fixture(c.fixture), 'case', 'mask.nii.gz') },
      workers: 1,
      ...c.opts,
    });
    const ns = JSON.parse(readFileSync(expectedFile(c, 'nonsphericity.json'), 'utf8')) as { h: number[]; erdf: number };
    const ours = res.record.nonSphericity;
    assert.ok(ours, 'non-sphericity recorded in model.json');
    assert.equal(ours.h.length, ns.h.length);
    ours.h.forEach((h, i) => assert.ok(rel(h, ns.h[i]) < 1e-5, `h${i + 1}: ${h} vs SPM ${ns.h[i]}`));
    // SPM's erdf is n - rank up to rounding (20.00000000000002 for the ANOVA)
    assert.ok(Math.abs(res.record.design.df - ns.erdf) < 1e-9, `df ${res.record.design.df} vs SPM ${ns.erdf}`);
  } finally {
    cleanup();
  }
}

test(
  'vbm run reproduces SPM12: two-sample t-test, unequal variances (ReML), age x group interaction',
  { skip: needShared },
  () => runUnequal(TWO_SAMPLE),
);
test('vbm run reproduces SPM12: one-way ANOVA, 3 levels, unequal variances (ReML)', { skip: needShared }, () =>
  runUnequal(ANOVA),
);
