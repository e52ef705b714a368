import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { makeQcCohort, writeQcCohort, type ScanFault } from '../src/synth/qcCohort.js';
import { runCheck } from '../src/pipeline/check.js';
import { HomogeneityAccumulator, flagScans, MAD_TO_SD } from '../src/check/homogeneity.js';
import { Rng } from '../src/synth/random.js';
import { readVolume } from '../src/node/nifti/read.js';
import { VbmError } from '../src/errors.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { mniLikeAffine } from '../src/synth/phantom.js';
import { tempDir } from './helpers.js';
import { spawnSync } from 'node:child_process';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { runPipeline } from '../src/pipeline/pipeline.js';
import { VBM_CLI } from './support/cli.js';

test('a cohort with an unmodulated, a misregistered (10 mm) and a rescaled scan: all three flagged and ranked above every good scan', async () => {
  const t = tempDir('vbm-check-');
  try {
    const cohort = makeQcCohort({ n: 30, dims: [30, 36, 30], voxelMm: 5, seed: 11 });
    const faults = new Map<number, ScanFault>([
      [3, 'unmodulated'],
      [12, 'misregistered'],
      [21, 'rescaled'],
    ]);
    const design = writeQcCohort(t.dir, cohort, faults);
    const res = await runCheck({ design, out: join(t.dir, 'out'), globals: 'tiv', nuisance: ['age'] });
    const bad = new Set(faults.keys());
    const top3 = res.summary.perScan.filter((v) => v.rank <= 3).map((v) => v.row);
    assert.deepEqual(new Set(top3), bad, `the three spoilt scans rank first (got rows ${String(top3)})`);
    for (const r of bad) assert.ok(res.summary.perScan[r].flagged, `row ${r + 1} (${faults.get(r)}) is flagged`);
    // what each fault looks like: a shifted brain correlates less; the scale faults deviate (high Z)
    assert.ok(res.summary.perScan[12].reasons.includes('low correlation'));
    assert.ok(res.summary.perScan[3].reasons.includes('high Z'));
    assert.ok(res.summary.perScan[21].reasons.includes('high Z'));
    // terminal: flagged scans by row and path, most extreme first
    assert.equal(res.flagged[0].row, res.summary.perScan.find((v) => v.rank === 1)!.row);
    assert.match(res.text, /mwp1sub-0013\.nii/);
    // files: the CSV per scan, the PNG, the JSON
    const csv = readFileSync(join(t.dir, 'out', 'check.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length, 31);
    assert.match(csv[0], /^row,scan,mean_correlation,quartic_mean_z/);
    const row13 = csv[13].split(',');
    assert.equal(row13[1], 'scans/mwp1sub-0013.nii');
    assert.equal(row13[6], '1');
    const png = PNG.sync.read(readFileSync(join(t.dir, 'out', 'check.png')));
    assert.ok(png.width > 600 && png.height > 300);
    // red dots for flagged scans are drawn
    let red = 0;
    for (let i = 0; i < png.data.length; i += 4)
      if (png.data[i] > 190 && png.data[i + 1] < 60 && png.data[i + 2] < 60) red++;
    assert.ok(red > 50, `flagged scans drawn in red (${red} red pixels)`);
  } finally {
    t.cleanup();
  }
});

/**
 * The measures computed the plain way: every scan in memory, scaling, a least-squares fit of
 * [1, nuisance] per voxel by solving the normal equations, Pearson correlations of every pair of
 * adjusted scans, and Z-scores per voxel.
 */
function directMeasures(
  scans: ArrayLike<number>[],
  mask: Uint8Array,
  globals: number[] | null,
  nuisance: number[][] | null,
): { r: number[]; qz: number[]; voxels: number } {
  const n = scans.length;
  const gm = globals ? globals.reduce((a, b) => a + b, 0) / n : 1;
  const Y = scans.map((s, i) =>
    Array.from(s, (v: number) => (Number.isFinite(v) ? v : 0) * (globals ? gm / globals[i] : 1)),
  );
  // CAT12's mask: mean image above a quarter of its global mean (mean of nonzero / 8, then mean above)
  const nv = scans[0].length;
  const mean: number[] = [];
  for (let v = 0; v < nv; v++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Y[i][v];
    mean.push(s / n);
  }
  const inMask = (v: number): boolean => mask[v] > 0;
  const nz = mean.filter((m, v) => inMask(v) && m !== 0);
  const cut = nz.reduce((a, b) => a + b, 0) / nz.length / 8;
  const above = mean.filter((m, v) => inMask(v) && m > cut);
  const floor = 0.25 * (above.reduce((a, b) => a + b, 0) / above.length);
  const q = nuisance ? nuisance[0].length : 0;
  const X = Array.from({ length: n }, (_, i) => [1, ...(nuisance ? nuisance[i] : [])]);
  const p = q + 1;
  const xbar = Array.from({ length: p }, (_, a) => X.reduce((s, row) => s + row[a], 0) / n);
  // (X'X)^-1 by Gauss-Jordan
  const A = Array.from({ length: p }, (_, a) =>
    Array.from({ length: 2 * p }, (__, b) =>
      b < p ? X.reduce((s, row) => s + row[a] * row[b], 0) : b - p === a ? 1 : 0,
    ),
  );
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    const d = A[c][c];
    for (let b = 0; b < 2 * p; b++) A[c][b] /= d;
    for (let r = 0; r < p; r++)
      if (r !== c) {
        const f = A[r][c];
        for (let b = 0; b < 2 * p; b++) A[r][b] -= f * A[c][b];
      }
  }
  const inv = A.map((row) => row.slice(p));
  const R: number[][] = Array.from({ length: n }, () => []);
  const z4 = new Array(n).fill(0);
  let voxels = 0;
  for (let v = 0; v < nv; v++) {
    if (!inMask(v) || !(mean[v] > floor)) continue;
    const y = Y.map((row) => row[v]);
    const xty = Array.from({ length: p }, (_, a) => X.reduce((s, row, i) => s + row[a] * y[i], 0));
    const b = inv.map((row) => row.reduce((s, w, a) => s + w * xty[a], 0));
    // adjusted = y minus the nuisance part of the fit about the nuisance means (the voxel's mean stays)
    const adj = y.map((yi, i) => yi - X[i].reduce((s, x, a) => (a === 0 ? s : s + (x - xbar[a]) * b[a]), 0));
    const m = adj.reduce((s, x) => s + x, 0) / n;
    const ss = adj.reduce((s, x) => s + (x - m) ** 2, 0);
    if (!(ss > 0)) continue;
    voxels++;
    const sd = Math.sqrt(ss / (n - 1 - q));
    adj.forEach((x, i) => {
      z4[i] += ((x - m) / sd) ** 4;
      R[i].push(x);
    });
  }
  const pearson = (a: number[], b: number[]): number => {
    const ma = a.reduce((s, x) => s + x, 0) / a.length;
    const mb = b.reduce((s, x) => s + x, 0) / b.length;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let k = 0; k < a.length; k++) {
      sab += (a[k] - ma) * (b[k] - mb);
      saa += (a[k] - ma) ** 2;
      sbb += (b[k] - mb) ** 2;
    }
    return sab / Math.sqrt(saa * sbb);
  };
  const r = R.map((a, i) => {
    let s = 0;
    R.forEach((b, j) => {
      if (j !== i) s += pearson(a, b);
    });
    return s / (n - 1);
  });
  return { r, qz: z4.map((s) => (s / voxels) ** 0.25), voxels };
}

test('correlations and quartic mean Z equal a direct computation (scaling, nuisance, blocks, rows on disk)', async () => {
  const t = tempDir('vbm-check-direct-');
  try {
    const n = 9;
    const cohort = makeQcCohort({ n, dims: [14, 16, 14], voxelMm: 10, seed: 5 });
    const design = writeQcCohort(t.dir, cohort, new Map([[2, 'misregistered']]));
    const scans = Array.from(
      { length: n },
      (_, i) => readVolume(join(t.dir, 'scans', `mwp1sub-${String(i + 1).padStart(4, '0')}.nii`)).data,
    );
    const age = cohort.age;
    const cases = [
      { globals: null, nuisance: null },
      { globals: cohort.tiv, nuisance: age.map((a, i) => [a, (i % 3) - 1]) },
    ];
    const table = readFileSync(design, 'utf8').trim().split('\n');
    writeFileSync(
      design,
      [`${table[0]},site`, ...table.slice(1).map((l, i) => `${l},${(i % 3) - 1}`)].join('\n') + '\n',
    );
    // the second case with an explicit mask: the front half of the grid (y index >= 8)
    const all = new Uint8Array(scans[0].length).fill(1);
    const front = new Uint8Array(scans[0].length);
    for (let v = 0; v < front.length; v++) front[v] = Math.floor(v / 14) % 16 >= 8 ? 1 : 0;
    const maskPath = join(t.dir, 'front.nii');
    writeFileSync(
      maskPath,
      encodeNifti({ dims: cohort.dims, affine: cohort.affine, data: front }, { datatype: DT.UINT8 }),
    );
    for (const [ci, c] of cases.entries()) {
      const d = directMeasures(scans, ci ? front : all, c.globals, c.nuisance);
      const opts = {
        design,
        mask: ci ? maskPath : undefined,
        globals: c.globals ? 'tiv' : undefined,
        nuisance: c.nuisance ? ['age', 'site'] : undefined,
      };
      for (const variant of [{}, { blockBytes: 8 * n * 70, memoryBytes: 1000 }]) {
        const res = await runCheck({ ...opts, ...variant, out: join(t.dir, 'out') });
        assert.equal(res.summary.voxels, d.voxels);
        res.summary.perScan.forEach((v, i) => {
          // float64 on both sides, sums in another order: 1e-9 relative
          assert.ok(
            Math.abs(v.meanCorrelation - d.r[i]) <= 1e-9 * Math.abs(d.r[i]),
            `scan ${i + 1}: mean r ${v.meanCorrelation} vs ${d.r[i]}`,
          );
          assert.ok(
            Math.abs(v.quarticZ - d.qz[i]) <= 1e-9 * d.qz[i],
            `scan ${i + 1}: quartic Z ${v.quarticZ} vs ${d.qz[i]}`,
          );
        });
        assert.equal(existsSync(join(t.dir, 'out', 'check.csv')), true);
      }
    }
  } finally {
    t.cleanup();
  }
});

/** The rule's rate for one measure: n iid normals, flagged beyond median + 2 x 1.4826 MAD, by simulation. */
function ruleRateOnNormals(n: number, reps: number, rng: Rng): number {
  let flagged = 0;
  for (let r = 0; r < reps; r++) {
    const x = Array.from({ length: n }, () => rng.normal());
    const s = x.slice().sort((a, b) => a - b);
    const med = (s[n / 2 - 1] + s[n / 2]) / 2;
    const dev = x.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
    const sd = MAD_TO_SD * ((dev[n / 2 - 1] + dev[n / 2]) / 2);
    flagged += x.filter((v) => v > med + 2 * sd).length;
  }
  return flagged / (n * reps);
}

test('on clean cohorts of 100 the rule flags what it implies', (t) => {
  // The rule applied to n = 100 normal values flags a fraction p of them on one side (2.3% for a
  // known SD; a little more with the median and MAD estimated from the same 100). Over 5 clean
  // cohorts (500 scans) the count per measure is then about Binomial(500, p): we accept the
  // mean +- 3 SD of that binomial, widened by the dependence within a cohort (the 100 scans share
  // one median and SD) by a factor 1.5. Both measures together flag between max(count) and the sum.
  const rng = new Rng(2024);
  const p = ruleRateOnNormals(100, 4000, rng);
  assert.ok(p > 0.0227 && p < 0.035, `the rule on normals flags ${p}`);
  const cohorts = 5;
  let low = 0;
  let high = 0;
  let any = 0;
  for (let c = 0; c < cohorts; c++) {
    const n = 100;
    // clean: subjects differ by smooth Gaussian noise and head size only (no Jacobian gradient,
    // whose squared random slope would give the measures a heavy tail)
    const cohort = makeQcCohort({ n, dims: [30, 36, 30], voxelMm: 5, seed: 300 + c, gradient: 0 });
    const gm = cohort.tiv.reduce((a, b) => a + b, 0) / n;
    const scans = Array.from({ length: n }, (_, i) => cohort.scan(i).map((v) => (v * gm) / cohort.tiv[i]));
    const keep: number[] = [];
    for (let v = 0; v < scans[0].length; v++) {
      let s = 0;
      for (const sc of scans) s += sc[v];
      if (s / n > 0.1) keep.push(v);
    }
    const Y = new Float64Array(n * keep.length);
    scans.forEach((sc, i) => keep.forEach((v, k) => (Y[i * keep.length + k] = sc[v])));
    const acc = new HomogeneityAccumulator(n);
    acc.addBlock(Y, keep.length);
    const m = acc.measures();
    const v = flagScans(m.meanCorrelation, m.quarticZ);
    low += v.filter((x) => x.reasons.includes('low correlation')).length;
    high += v.filter((x) => x.reasons.includes('high Z')).length;
    any += v.filter((x) => x.flagged).length;
  }
  const N = cohorts * 100;
  const mean = N * p;
  const sd = 1.5 * Math.sqrt(N * p * (1 - p));
  t.diagnostic(
    `rule on normals: ${(100 * p).toFixed(2)}% per measure; clean cohorts: ${low} low correlation, ${high} high Z, ${any} flagged of ${N}`,
  );
  for (const [name, k] of [
    ['low correlation', low],
    ['high Z', high],
  ] as const) {
    assert.ok(
      k >= mean - 3 * sd && k <= mean + 3 * sd,
      `${name}: ${k} flagged of ${N}, expected ${mean.toFixed(1)} +- ${(3 * sd).toFixed(1)}`,
    );
  }
  assert.ok(any >= Math.max(low, high) && any <= low + high);
  assert.ok(any <= 2 * (mean + 3 * sd));
});

test('check refuses bad input by name', async () => {
  const t = tempDir('vbm-check-bad-');
  try {
    const cohort = makeQcCohort({ n: 5, dims: [10, 12, 10], voxelMm: 12, seed: 1 });
    const design = writeQcCohort(t.dir, cohort);
    await assert.rejects(
      runCheck({ design, out: t.dir, globals: 'icv' }),
      (e: unknown) => e instanceof VbmError && /column 'icv'.*--globals/.test(e.message),
    );
    await assert.rejects(
      runCheck({ design, out: t.dir, nuisance: ['age', 'tiv', 'x'] }),
      (e: unknown) => e instanceof VbmError && /'x'/.test(e.message),
    );
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    lines[2] = lines[2].replace(/,\d+$/, ',0');
    writeFileSync(design, lines.join('\n') + '\n');
    await assert.rejects(
      runCheck({ design, out: t.dir, globals: 'tiv' }),
      (e: unknown) => e instanceof VbmError && /row 3.*not positive/.test(e.message),
    );
  } finally {
    t.cleanup();
  }
});

test('the check stage of an analysis file: runs before estimation, is cached, re-runs alone when its settings change, and shows in the report', async () => {
  const t = tempDir('vbm-check-stage-');
  try {
    const cohort = makeQcCohort({ n: 16, dims: [16, 20, 16], voxelMm: 9, seed: 21 });
    const design = writeQcCohort(t.dir, cohort, new Map([[5, 'misregistered']]));
    const raw = {
      design,
      out: join(t.dir, 'res'),
      contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
      check: { globals: 'tiv' },
      report: { viewer: false },
    };
    const statuses = async (r: Record<string, unknown>): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      const [m] = await runPipeline(parseAnalysisSpec(r, t.dir, 'test'), { workers: 0 });
      for (const s of m.stages) out[s.stage] = s.status;
      return out;
    };
    const first = await statuses(raw);
    assert.equal(first.check, 'ran');
    assert.equal(first.estimate, 'ran');
    const again = await statuses(raw);
    assert.equal(again.check, 'cached');
    assert.equal(again.estimate, 'cached');
    const changed = await statuses({ ...raw, check: { globals: 'tiv', nuisance: ['age'] } });
    assert.equal(changed.check, 'ran');
    assert.equal(changed.estimate, 'cached');
    const page = readFileSync(join(t.dir, 'res', 'report.html'), 'utf8');
    assert.match(page, /<section id="check">/);
    assert.match(page, /mwp1sub-0006\.nii/);
    assert.match(page, /regressed out/);
  } finally {
    t.cleanup();
  }
});

test('the same cohort stored LAS and RAS (and a mask stored LAS) gives the same measures', async () => {
  const t = tempDir('vbm-check-orient-');
  try {
    const n = 8;
    const dims: [number, number, number] = [14, 16, 14];
    const cohort = makeQcCohort({ n, dims, voxelMm: 10, seed: 9, storage: 'LAS' });
    const las = writeQcCohort(join(t.dir, 'las'), cohort, new Map([[1, 'misregistered']]));
    // RAS copy: x index flipped, RAS affine; world positions are the same (mniLikeAffine is symmetric)
    const ras = join(t.dir, 'ras');
    mkdirSync(join(ras, 'scans'), { recursive: true });
    const rasAffine = mniLikeAffine(dims, 10, 'RAS');
    for (let i = 0; i < n; i++) {
      const name = `scans/mwp1sub-${String(i + 1).padStart(4, '0')}.nii`;
      const src = readVolume(join(t.dir, 'las', name)).data;
      const out = new Float32Array(src.length);
      for (let z = 0; z < dims[2]; z++)
        for (let y = 0; y < dims[1]; y++)
          for (let x = 0; x < dims[0]; x++)
            out[x + dims[0] * (y + dims[1] * z)] = src[dims[0] - 1 - x + dims[0] * (y + dims[1] * z)];
      writeFileSync(join(ras, name), encodeNifti({ dims, affine: rasAffine, data: out }));
    }
    writeFileSync(join(ras, 'design.csv'), readFileSync(las, 'utf8'));
    // a mask of the left hemisphere (world x < 0), stored LAS
    const left = new Uint8Array(dims[0] * dims[1] * dims[2]);
    for (let v = 0; v < left.length; v++)
      left[v] = cohort.affine[0][0] * (v % dims[0]) + cohort.affine[0][3] < 0 ? 1 : 0;
    const maskPath = join(t.dir, 'left.nii');
    writeFileSync(maskPath, encodeNifti({ dims, affine: cohort.affine, data: left }, { datatype: DT.UINT8 }));
    const a = await runCheck({ design: las, out: join(t.dir, 'o1'), mask: maskPath, globals: 'tiv' });
    const b = await runCheck({
      design: join(ras, 'design.csv'),
      out: join(t.dir, 'o2'),
      mask: maskPath,
      globals: 'tiv',
    });
    assert.equal(a.summary.voxels, b.summary.voxels);
    assert.ok(a.summary.voxels > 0 && a.summary.voxels < left.length / 2);
    a.summary.perScan.forEach((v, i) => {
      // the same numbers summed in another voxel order: 1e-9 relative
      assert.ok(
        Math.abs(v.meanCorrelation - b.summary.perScan[i].meanCorrelation) <= 1e-9 * Math.abs(v.meanCorrelation),
      );
      assert.ok(Math.abs(v.quarticZ - b.summary.perScan[i].quarticZ) <= 1e-9 * v.quarticZ);
    });
  } finally {
    t.cleanup();
  }
});

test('vbm check from the command line: the table of flagged scans, exit 2 with the column named on a mistake', () => {
  const t = tempDir('vbm-check-cli-');
  try {
    const cohort = makeQcCohort({ n: 14, dims: [16, 20, 16], voxelMm: 9, seed: 4 });
    const design = writeQcCohort(t.dir, cohort, new Map([[6, 'misregistered']]));
    const cli = VBM_CLI;
    const ok = spawnSync(process.execPath, [cli, 'check', design, '--globals', 'tiv', '-o', join(t.dir, 'qc'), '-q'], {
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /flagged, most extreme first/);
    assert.match(ok.stdout, /\n\s+7\s+scans\/mwp1sub-0007\.nii\s+[\d.]+\s+[\d.]+\s+low correlation/);
    for (const f of ['check.csv', 'check.png', 'check.json']) assert.ok(existsSync(join(t.dir, 'qc', f)), f);
    const bad = spawnSync(process.execPath, [cli, 'check', design, '--nuisance', 'age,icv', '-o', join(t.dir, 'qc')], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /column 'icv' \(named by --nuisance\) is not in the spreadsheet/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    t.cleanup();
  }
});
