/**
 * Issue 14, cases 5-11: damaged outputs are not used; file-system failures are vbm messages
 * that leave the previous analysis intact; a refused run leaves the folder byte for byte as it
 * was; scans that empty the mask are named; all-zero and outlying scans are warned about; each
 * stage records the command that made it; CSV cells from users' files cannot run as formulas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { repoRoot, tempDir } from './helpers.js';
import { assertRefused, runCli } from './support/cli.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { openAnalysis } from '../src/pipeline/analysis.js';
import { runResults } from '../src/pipeline/results.js';
import { runPlot } from '../src/pipeline/plot.js';
import { runReport } from '../src/pipeline/report.js';
import { runLabel } from '../src/pipeline/label.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { describeAnalysis } from '../src/pipeline/show.js';
import { stageSummary } from '../src/pipeline/pipeline.js';
import { VbmError } from '../src/errors.js';
import { csvCell } from '../src/io/csv.js';

const FAULTS = join(repoRoot, 'dist', 'test', 'support', 'fsFaults.js');

/** Every file under `dir` (relative path -> SHA-256): a folder "byte for byte". */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

function study(dir: string, n = 10): string {
  const cohort = makeCohort({
    n,
    dims: [14, 16, 14],
    voxelMm: 10,
    noiseFwhmMm: 18,
    seed: 5,
    effects: [{ centreMm: [20, -10, 10], sigmaMm: 12, covariate: 'age', perSd: 0.1 }],
  });
  const design = writeCohort(dir, cohort, { format: 'nii' });
  writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
  return design;
}

async function expectVbmError(p: Promise<unknown> | (() => unknown), ...patterns: RegExp[]): Promise<VbmError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof VbmError, `expected a VbmError, got ${String((e as Error).stack ?? e)}`);
    for (const re of patterns) assert.match(`${e.message}\n${e.hint ?? ''}`, re);
    return e;
  }
  assert.fail('expected an error');
}

test('case 5: an altered spmT_0001.nii is refused by results, plot and report, naming it and the command that recomputes it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir);
    const out = join(dir, 'out');
    const run = runCli([
      'run',
      design,
      '--out',
      out,
      '--mask',
      join(dir, 'mask.nii'),
      '--contrast',
      'age+:T:age=1',
      '-q',
    ]);
    assert.equal(run.status, 0, run.stderr);
    // unchanged: results read it; a touched file (new mtime, same bytes) is still accepted (hash decides)
    const spmT = join(out, 'spmT_0001.nii');
    utimesSync(spmT, new Date(), new Date(Date.now() + 5000));
    const ok = runResults(openAnalysis(out), { contrast: 1, threshold: 0.001, correction: 'none', extent: 0 });
    assert.ok(ok.table.rows.length >= 0);
    // one voxel set to 50, as in the issue (the first in-mask voxel)
    const bytes = readFileSync(spmT);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = -1;
    for (let o = 352; o < bytes.length; o += 4)
      if (view.getFloat32(o, true) !== 0) {
        at = o;
        break;
      }
    assert.ok(at > 0);
    view.setFloat32(at, 50, true);
    writeFileSync(spmT, bytes);
    const named = [/spmT_0001\.nii is not the file vbm wrote/, /contrasts stage/, /vbm run .*--contrast age\+:T:age=1/];
    await expectVbmError(
      () => runResults(openAnalysis(out), { contrast: 1, threshold: 0.001, correction: 'none', extent: 0 }),
      ...named,
    );
    await expectVbmError(
      runPlot(out, { contrast: 1, threshold: 3, correction: 'none', out: join(dir, 'p.png') }),
      ...named,
    );
    await expectVbmError(runReport(out, { viewer: false, out: join(dir, 'r.html') }), ...named);
    // the CLI: exit 2, no stack
    assertRefused(runCli(['results', out, '--contrast', '1']), /spmT_0001\.nii is not the file vbm wrote/);
    // a re-run recomputes it, and results work again
    const again = runCli([
      'run',
      design,
      '--out',
      out,
      '--mask',
      join(dir, 'mask.nii'),
      '--contrast',
      'age+:T:age=1',
      '-q',
    ]);
    assert.equal(again.status, 0, again.stderr);
    runResults(openAnalysis(out), { contrast: 1, threshold: 0.001, correction: 'none', extent: 0 });
  } finally {
    cleanup();
  }
});

test('case 6: --out naming a file (EEXIST), a full disk (ENOSPC) and a read-only analysis (EROFS) are vbm messages; nothing half-written, the previous analysis intact', () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    assertRefused(
      runCli(['run', design, '--out', file, '--contrast', 'T:age', '-q']),
      /a-file is a file, not a folder/,
      /hint: give --out/,
    );
    assertRefused(
      runCli(['run', design, '--out', join(file, 'sub'), '--contrast', 'T:age', '-q']),
      /a-file/,
      /not a folder|a file is in the way/,
    );
    const out = join(dir, 'out');
    assert.equal(runCli(['run', design, '--out', out, '--contrast', 'T:age', '-q']).status, 0);
    const before = snapshot(out);
    // a full disk while the contrasts of a re-run are written (simulated at the write layer: half
    // the bytes of each file reach the disk, then ENOSPC)
    const full = runCli(['run', design, '--out', out, '--contrast', 'T:age', '--contrast', 'F:age', '-q'], {
      preload: [FAULTS],
      env: { VBM_TEST_FS_FAULT: `ENOSPC:${out}` },
    });
    assertRefused(full, /no space left on the device that holds .*out/, /nothing half-written was kept/);
    assert.deepEqual(snapshot(out), before, 'the previous analysis is byte for byte intact, no temporary file left');
    // results on a read-only analysis
    const ro = runCli(['results', out, '--contrast', '1'], {
      preload: [FAULTS],
      env: { VBM_TEST_FS_FAULT: `EROFS:${out}` },
    });
    assertRefused(ro, /the file system is read-only/, /out/, /write the outputs elsewhere/);
    assert.deepEqual(snapshot(out), before);
  } finally {
    cleanup();
  }
});

test('case 7: a refused run leaves the target folder exactly as it was', () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir);
    // a folder of SPM's files: refused, and no vbm-stages.json created among them
    const spm = join(dir, 'spm');
    mkdirSync(spm);
    writeFileSync(join(spm, 'SPM.mat'), 'MATLAB 5.0 MAT-file');
    writeFileSync(
      join(spm, 'beta_0001.nii'),
      encodeNifti({
        dims: [2, 2, 2],
        affine: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
        data: new Float32Array(8),
      }),
    );
    const spmBefore = snapshot(spm);
    assertRefused(
      runCli(['run', design, '--out', spm, '--contrast', 'T:age', '-q']),
      /holds analysis files vbm did not write/,
    );
    assert.deepEqual(snapshot(spm), spmBefore);
    // a folder holding another vbm analysis: refused, its vbm-stages.json not rewritten
    const out = join(dir, 'out');
    assert.equal(runCli(['run', design, '--out', out, '--contrast', 'T:age', '-q']).status, 0);
    const before = snapshot(out);
    const other = join(dir, 'other.csv');
    writeFileSync(
      other,
      readFileSync(design, 'utf8')
        .split('\n')
        .filter((_, i) => i !== 3)
        .join('\n'),
    );
    assertRefused(
      runCli(['run', other, '--out', out, '--contrast', 'T:age', '-q']),
      /already holds a different analysis/,
    );
    assert.deepEqual(snapshot(out), before);
    // bad input into the existing analysis (a scan missing; an unknown contrast column)
    const missing = join(dir, 'missing.csv');
    writeFileSync(missing, readFileSync(design, 'utf8').replace('smwc1sub-0002.nii', 'nowhere.nii'));
    assertRefused(runCli(['run', missing, '--out', out, '--contrast', 'T:age', '-q']), /nowhere\.nii/);
    assertRefused(runCli(['run', design, '--out', out, '--contrast', 'T:agee', '-q']), /agee/);
    assert.deepEqual(snapshot(out), before);
    // a new folder and input refused only during estimation (an all-NaN scan empties the mask): not created
    const nanDesign = join(dir, 'nan.csv');
    writeFileSync(
      join(dir, 'scans', 'nan.nii'),
      encodeNifti({
        dims: [14, 16, 14],
        affine: openAnalysis(out).record.grid.affine,
        data: new Float32Array(14 * 16 * 14).fill(NaN),
      }),
    );
    writeFileSync(nanDesign, readFileSync(design, 'utf8').replace('smwc1sub-0003.nii', 'nan.nii'));
    const fresh = join(dir, 'fresh');
    assertRefused(runCli(['run', nanDesign, '--out', fresh, '--contrast', 'T:age', '-q']), /no voxel survives masking/);
    assert.equal(existsSync(fresh), false, 'the folder the refused run would have made does not exist');
  } finally {
    cleanup();
  }
});

test('case 8: an all-NaN scan that empties the mask is named, with the voxels it removed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir, 8);
    const cohortAffine = (await import('../src/node/nifti/read.js')).readVolume(
      join(dir, 'scans', 'smwc1sub-0001.nii'),
    ).affine;
    writeFileSync(
      join(dir, 'scans', 'smwc1sub-0005.nii'),
      encodeNifti({ dims: [14, 16, 14], affine: cohortAffine, data: new Float32Array(14 * 16 * 14).fill(NaN) }),
    );
    const e = await expectVbmError(
      runAnalysis({ design, out: join(dir, 'out'), workers: 2 }),
      /no voxel survives masking/,
      /scans\/smwc1sub-0005\.nii \(row 5\) removes 3136 of 3136 voxels, it has no finite value/,
    );
    // the other scans removed nothing (they are finite everywhere): only the NaN scan is named
    assert.doesNotMatch(e.message, /smwc1sub-0001/);
  } finally {
    cleanup();
  }
});

test('case 9: an all-zero float scan and a scan on another scale are warned about, by name', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir, 12);
    const { readVolume } = await import('../src/node/nifti/read.js');
    const v = readVolume(join(dir, 'scans', 'smwc1sub-0002.nii'));
    writeFileSync(
      join(dir, 'scans', 'smwc1sub-0002.nii'),
      encodeNifti({ dims: v.dims, affine: v.affine, data: new Float32Array(v.data.length) }),
    );
    // an unmodulated-like map: the same anatomy at 20 times the values
    const w = readVolume(join(dir, 'scans', 'smwc1sub-0007.nii'));
    writeFileSync(
      join(dir, 'scans', 'smwc1sub-0007.nii'),
      encodeNifti({ dims: w.dims, affine: w.affine, data: Float32Array.from(w.data, (x) => x * 20) }),
    );
    const logs: string[] = [];
    await runAnalysis({
      design,
      out: join(dir, 'out'),
      masking: { explicitMask: join(dir, 'mask.nii') },
      log: (m) => logs.push(m),
      workers: 0,
    });
    const warnings = logs.filter((l) => l.startsWith('warning:'));
    assert.ok(
      warnings.some((w) => /smwc1sub-0002\.nii \(row 2\) is all zeros/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /smwc1sub-0007\.nii \(row 7\) has a mean of .* more than 4 standard deviations/.test(w)),
      warnings.join('\n'),
    );
    // the all-zero scan is an outlier too, but no ordinary scan is named
    for (const k of [1, 3, 4, 5, 6, 8, 9, 10, 11, 12])
      assert.ok(!warnings.some((w) => w.includes(`smwc1sub-${String(k).padStart(4, '0')}`)), `scan ${k} not named`);
  } finally {
    cleanup();
  }
});

test('case 10: each stage records the command that made it; model.json and vbm show say which', () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = study(dir, 8);
    const out = join(dir, 'out');
    assert.equal(runCli(['run', design, '--out', out, '--contrast', 'T:age', '-q']).status, 0);
    const second = runCli(['run', design, '--out', out, '--contrast', 'T:age', '--contrast', 'F:age,sex', '-q']);
    assert.equal(second.status, 0, second.stderr);
    const first = `vbm run ${design} --out ${out} --contrast T:age -q`;
    const later = `vbm run ${design} --out ${out} --contrast T:age --contrast F:age,sex -q`;
    const stages = Object.fromEntries(stageSummary(out).map((s) => [s.stage, s.command]));
    assert.equal(stages.estimate, first, 'the estimate was made by the first run (cached in the second)');
    assert.equal(stages.contrasts, later);
    const rec = openAnalysis(out).record;
    assert.equal(rec.command, first);
    assert.deepEqual(rec.commands, { estimate: first, contrasts: later });
    assert.match(
      describeAnalysis(openAnalysis(out)),
      new RegExp(`contrasts updated by: ${later.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    const show = runCli(['show', out]);
    assert.equal(show.status, 0);
    assert.match(show.stdout, /contrasts .*--contrast F:age,sex/);
  } finally {
    cleanup();
  }
});

test("case 11: label CSVs neutralise formula cells from a user label table; vbm's negative numbers stay numbers", () => {
  const { dir, cleanup } = tempDir();
  try {
    // the writer itself, against RFC 4180 and OWASP's rules
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`);
    for (const s of ['+1+cmd', '-2+3', '@SUM(A1)', '\tx', '\rx']) assert.equal(csvCell(s).startsWith(`"'`), true, s);
    for (const s of ['-12.5', '-1e-5', '+3', '-Inf', '12']) assert.equal(csvCell(s), s, `${s} is a number`);
    assert.equal(csvCell(-12.5), '-12.5');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('line\nbreak'), '"line\nbreak"');
    // end to end: an atlas whose labels are formulas
    const design = study(dir);
    const out = join(dir, 'out');
    assert.equal(
      runCli(['run', design, '--out', out, '--mask', join(dir, 'mask.nii'), '--contrast', 'age+:T:age=1', '-q']).status,
      0,
    );
    const rec = openAnalysis(out).record;
    const n = rec.grid.dims[0] * rec.grid.dims[1] * rec.grid.dims[2];
    const atlasData = new Uint8Array(n);
    for (let i = 0; i < n; i++) atlasData[i] = 1 + (i % 2);
    writeFileSync(
      join(dir, 'atlas.nii'),
      encodeNifti({ dims: rec.grid.dims, affine: rec.grid.affine, data: atlasData }, { datatype: 2 }),
    );
    writeFileSync(join(dir, 'atlas.csv'), 'index,name\n1,"=HYPERLINK(""http://evil"",""x"")"\n2,@SUM(1+1)\n');
    const res = runLabel(out, {
      contrast: 1,
      threshold: 0.5,
      correction: 'none',
      extent: 0,
      atlas: join(dir, 'atlas.nii'),
      labels: join(dir, 'atlas.csv'),
      modes: ['peaks'],
    });
    const text = readFileSync(join(out, res.files[0]), 'utf8');
    const rows = parseCsv<Record<string, string>>(text, { columns: true });
    assert.ok(rows.length > 0, 'the planted effect gives peaks');
    for (const r of rows) {
      assert.match(r.label, /^'(=HYPERLINK|@SUM)/, 'formula labels are prefixed with a quote');
      assert.match(r.x_mm, /^-?\d+(\.\d+)?$/, 'coordinates stay plain numbers');
    }
    assert.doesNotMatch(text, /,=|,@|,\+/, 'no raw formula cell');
  } finally {
    cleanup();
  }
});
