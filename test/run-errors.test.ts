/**
 * Bad input: each error names the file, row or column, says how to fix it, and leaves the
 * output folder as it was (no half-written or temporary files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { VbmError } from '../src/errors.js';
import writeXlsxFile from 'write-excel-file/node';

function smallStudy(dir: string, n = 8): string {
  const cohort = makeCohort({ n, dims: [12, 14, 12], voxelMm: 12, noiseFwhmMm: 20, seed: 3 });
  return writeCohort(dir, cohort, { format: 'mixed' });
}

async function expectVbmError(p: Promise<unknown>, ...patterns: RegExp[]): Promise<VbmError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VbmError, `expected a VbmError, got ${String(e)}`);
    for (const re of patterns) assert.match(`${e.message}\n${e.hint ?? ''}`, re);
    return e;
  }
  assert.fail('expected an error');
}

function editCsv(path: string, f: (lines: string[]) => string[]): void {
  writeFileSync(path, f(readFileSync(path, 'utf8').trim().split('\n')).join('\n'));
}

test('spreadsheet errors name the row and column', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = smallStudy(dir);
    const out = join(dir, 'out');
    copyFileSync(design, join(dir, 'orig.csv'));
    editCsv(design, (l) => l.map((x, i) => (i === 3 ? x.replace(/,\d+(\.\d+)?,/, ',forty,') : x)));
    await expectVbmError(
      runAnalysis({ design, out }),
      /row 4 \(scans\/smwc1sub-0003\.nii\.gz\), column 'age': 'forty' is not a number/,
      /numeric/,
    );
    copyFileSync(join(dir, 'orig.csv'), design);
    editCsv(design, (l) => l.map((x, i) => (i === 5 ? x.replace(/,(\d)$/, ',') : x)));
    await expectVbmError(runAnalysis({ design, out }), /row 6 .*column 'apoe4' is empty/);
    copyFileSync(join(dir, 'orig.csv'), design);
    editCsv(design, (l) => l.slice(0, 4));
    await expectVbmError(
      runAnalysis({ design, out }),
      /3 scans but the design has 4 columns \(mean, age, sex, apoe4\)/,
    );
    copyFileSync(join(dir, 'orig.csv'), design);
    await expectVbmError(
      runAnalysis({ design, out, contrasts: [{ name: 'bad', type: 'T', columns: ['agee'], weights: [1] }] }),
      /names column 'agee'/,
      /columns are: mean, age, sex, apoe4/,
    );
    await expectVbmError(
      runAnalysis({ design, out, covariates: ['age', 'tiv'] }),
      /'tiv' is not in the spreadsheet/,
      /age, sex, apoe4/,
    );
    assert.equal(existsSync(out), false, 'nothing written');
  } finally {
    cleanup();
  }
});

test('scan errors name the file: missing, other grid, other affine, truncated, header larger than file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = smallStudy(dir);
    const out = join(dir, 'out');
    const scan = (i: number, ext: string): string =>
      join(dir, 'scans', `smwc1sub-${String(i).padStart(4, '0')}.${ext}`);
    const aff = [
      [-12, 0, 0, 60],
      [0, 12, 0, -96],
      [0, 0, 12, -48],
      [0, 0, 0, 1],
    ];
    copyFileSync(scan(4, 'nii'), join(dir, 'keep.nii'));
    // other dimensions
    writeFileSync(
      scan(4, 'nii'),
      encodeNifti({ dims: [12, 14, 11], affine: aff, data: new Float32Array(12 * 14 * 11) }),
    );
    await expectVbmError(
      runAnalysis({ design, out }),
      /smwc1sub-0004\.nii is 12x14x11 voxels but the first scan .*smwc1sub-0001\.nii\.gz\) is 12x14x12/,
      /same template/,
    );
    // other affine
    writeFileSync(
      scan(4, 'nii'),
      encodeNifti({ dims: [12, 14, 12], affine: aff, data: new Float32Array(12 * 14 * 12) }),
    );
    await expectVbmError(runAnalysis({ design, out }), /smwc1sub-0004\.nii has a different voxel-to-mm affine/);
    // header says more data than the file has
    const whole = readFileSync(join(dir, 'keep.nii'));
    writeFileSync(scan(4, 'nii'), whole.subarray(0, whole.length - 100));
    await expectVbmError(
      runAnalysis({ design, out }),
      /smwc1sub-0004\.nii: the header describes .* holds only/,
      /truncated/,
    );
    copyFileSync(join(dir, 'keep.nii'), scan(4, 'nii'));
    // truncated gzip of a later scan (found during the streaming pass)
    const gz = readFileSync(scan(7, 'nii.gz'));
    writeFileSync(scan(7, 'nii.gz'), gz.subarray(0, gz.length - 500));
    await expectVbmError(
      runAnalysis({ design, out, workers: 2 }),
      /smwc1sub-0007\.nii\.gz: the gzip stream is corrupt or truncated/,
    );
    writeFileSync(scan(7, 'nii.gz'), gz);
    // missing
    editCsv(design, (l) => [...l.slice(0, 2), l[2].replace('0002', '0099'), ...l.slice(3)]);
    await expectVbmError(runAnalysis({ design, out }), /not found: .*smwc1sub-0099\.nii/);
    assert.equal(existsSync(out), false, 'nothing written');
  } finally {
    cleanup();
  }
});

test('an output folder holding another analysis is refused, untouched, and replaced only with overwrite', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = smallStudy(dir, 10);
    const out = join(dir, 'out');
    await runAnalysis({
      design,
      out,
      contrasts: [
        { name: 'age', type: 'T', columns: ['age'], weights: [1] },
        { name: 'sex', type: 'T', columns: ['sex'], weights: [1] },
      ],
    });
    const before = readFileSync(join(out, 'model.json'), 'utf8');
    // the same analysis moving on (one contrast fewer): allowed, and the dropped contrast's files go
    await runAnalysis({ design, out, contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }] });
    assert.equal(existsSync(join(out, 'spmT_0002.nii')), false);
    assert.equal(existsSync(join(out, 'spmT_0001.nii')), true);
    // a different design (another covariate set) is refused, and the folder is left as it was
    const mid = readFileSync(join(out, 'model.json'), 'utf8');
    assert.notEqual(mid, before);
    await expectVbmError(
      runAnalysis({ design, out, covariates: ['age'] }),
      /already holds a different analysis/,
      /--overwrite/,
    );
    assert.equal(readFileSync(join(out, 'model.json'), 'utf8'), mid);
    const res = await runAnalysis({ design, out, covariates: ['age'], overwrite: true });
    assert.deepEqual(res.record.design.columns, ['mean', 'age']);
    assert.equal(existsSync(join(out, 'beta_0003.nii')), false, 'betas of the old design removed');
    assert.deepEqual(
      readdirSync(out).filter((f) => f.includes('.tmp-')),
      [],
      'no temporary files',
    );
    // a folder with SPM's files but no model.json
    const spm = join(dir, 'spm');
    await runAnalysis({ design, out: spm, covariates: ['age'] });
    writeFileSync(join(spm, 'model.json.bak'), '');
    const { rmSync } = await import('node:fs');
    rmSync(join(spm, 'model.json'));
    await expectVbmError(
      runAnalysis({ design, out: spm }),
      /holds analysis files vbm did not write \(.*beta_0001\.nii/,
    );
  } finally {
    cleanup();
  }
});

test('xlsx spreadsheets written by another tool are read like CSV', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const csv = smallStudy(dir, 9);
    const rows = readFileSync(csv, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const sheet = rows.map((r, i) =>
      r.map((c, j) => (i === 0 || j === 0 ? { value: c } : { value: Number(c), type: Number })),
    );
    await writeXlsxFile(sheet as never).toFile(join(dir, 'design.xlsx'));
    const a = await runAnalysis({ design: csv, out: join(dir, 'a') });
    const b = await runAnalysis({ design: join(dir, 'design.xlsx'), out: join(dir, 'b') });
    assert.deepEqual(b.record.design.matrix, a.record.design.matrix);
    assert.deepEqual(
      b.record.scans.map((s) => s.hash),
      a.record.scans.map((s) => s.hash),
    );
  } finally {
    cleanup();
  }
});
