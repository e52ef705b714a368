/**
 * Property-based tests (fast-check) over what reads users' files: the NIfTI/Analyze header
 * parser, the gzip path, SPM's .mat reader, CSV/TSV/xlsx readers and the analysis-file parser.
 * Random and mutated inputs must give a result or a VbmError (never another error), never
 * allocate more than a bound, and a run never writes outside its output folder.
 * `npm test` runs a few cases per property (seconds); `npm run fuzz` multiplies them by
 * FUZZ_SCALE (FUZZ_SEED replays a failure fast-check reports).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import writeXlsxFile from 'write-excel-file/node';
import { tempDir } from './helpers.js';
import { VbmError } from '../src/errors.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { claimedBytes, MAX_IMAGE_BYTES, parseHeader } from '../src/io/nifti/header.js';
import { openNifti, TRAILING_BYTES_ALLOWED } from '../src/node/nifti/read.js';
import { readMatVariables } from '../src/io/matlab.js';
import { readTable } from '../src/node/spreadsheet.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { readAnalysisFile } from '../src/pipeline/analysisFileRead.js';
import { runPipeline } from '../src/pipeline/pipeline.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';

/** Cases per property: a small default, times FUZZ_SCALE (npm run fuzz). */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
const runs = (fast: number): number => Math.round(fast * SCALE);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = (fast: number): fc.Parameters<unknown> => ({
  numRuns: runs(fast),
  ...(SEED !== undefined ? { seed: SEED } : {}),
});

/** Run `f`; anything thrown must be a VbmError. */
function onlyVbmError<T>(f: () => T): T | VbmError {
  try {
    return f();
  } catch (e) {
    if (e instanceof VbmError) return e;
    throw new Error(`not a VbmError: ${(e as Error).stack ?? String(e)}`, { cause: e });
  }
}
async function onlyVbmErrorAsync<T>(f: () => Promise<T>): Promise<T | VbmError> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof VbmError) return e;
    throw new Error(`not a VbmError: ${(e as Error).stack ?? String(e)}`, { cause: e });
  }
}

const AFFINE = [
  [2, 0, 0, -4],
  [0, 2, 0, -4],
  [0, 0, 2, -4],
  [0, 0, 0, 1],
];
const GOOD = encodeNifti({ dims: [4, 4, 4], affine: AFFINE, data: Float32Array.from({ length: 64 }, (_, i) => i) });

/** Byte edits: set bytes (biased to the header), cut the end, or append bytes. */
const mutation = fc.record({
  sets: fc.array(fc.tuple(fc.oneof(fc.nat(348), fc.nat(4096)), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
  cut: fc.option(fc.nat(600), { nil: undefined }),
  append: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
});
function mutate(src: Uint8Array, m: { sets: [number, number][]; cut?: number; append?: Uint8Array }): Uint8Array {
  let b = Uint8Array.from(src);
  for (const [at, v] of m.sets) if (at < b.length) b[at] = v;
  if (m.cut !== undefined) b = b.subarray(0, Math.min(b.length, m.cut));
  if (m.append) b = Uint8Array.from([...b, ...m.append]);
  return b;
}

test('fuzz: the NIfTI/Analyze header parser gives a header or a VbmError, never a claim beyond the bound', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 700 }),
        mutation.map((m) => mutate(GOOD, m)),
      ),
      fc.boolean(),
      (bytes, pair) => {
        const r = onlyVbmError(() => parseHeader(bytes, pair ? 'x.hdr' : 'x.nii', pair ? 'x.img' : 'x.nii'));
        if (!(r instanceof VbmError)) {
          assert.ok(Number.isSafeInteger(claimedBytes(r)), 'a countable size');
          assert.ok(r.dims.every((d) => Number.isInteger(d) && d >= 1));
          assert.ok(r.affine.flat().length === 16);
        }
      },
    ),
    params(400),
  );
});

test('fuzz: mutated .nii, .nii.gz and .hdr/.img files open or give a VbmError, holding no more than the header claims', () => {
  const { dir, cleanup } = tempDir('vbm-fuzz-');
  try {
    let k = 0;
    fc.assert(
      fc.property(mutation, fc.constantFrom('nii', 'nii.gz', 'pair'), fc.boolean(), (m, kind, gzAfter) => {
        const name = join(dir, `f${k++}`);
        let path: string;
        if (kind === 'pair') {
          const b = mutate(GOOD, m);
          writeFileSync(`${name}.hdr`, b.subarray(0, 348));
          writeFileSync(`${name}.img`, b.subarray(352));
          path = `${name}.hdr`;
        } else if (kind === 'nii.gz') {
          // mutate the plain bytes, or the compressed stream itself
          const bytes = gzAfter ? mutate(gzipSync(GOOD), m) : gzipSync(mutate(GOOD, m));
          writeFileSync(`${name}.nii.gz`, bytes);
          path = `${name}.nii.gz`;
        } else {
          writeFileSync(`${name}.nii`, mutate(GOOD, m));
          path = `${name}.nii`;
        }
        const r = onlyVbmError(() => openNifti(path, { hash: true }));
        if (!(r instanceof VbmError)) {
          const need = claimedBytes(r.header);
          assert.ok(need <= MAX_IMAGE_BYTES);
          assert.ok(
            r.data.length >= need && r.data.length <= need + TRAILING_BYTES_ALLOWED + 348,
            `holds ${r.data.length} for a claim of ${need}`,
          );
        }
        for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
      }),
      params(200),
    );
  } finally {
    cleanup();
  }
});

test("fuzz: SPM's .mat reader gives matrices or a VbmError on random and mutated files", () => {
  const head = Buffer.alloc(128, 0x20);
  head.write('IM', 126);
  head.writeUInt16LE(0x0100, 124);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (body, v5) => {
      const bytes = v5 ? Uint8Array.from([...head, ...body]) : body;
      const r = onlyVbmError(() =>
        readMatVariables(bytes, 'x.mat', ['mat', 'M'], (b) => inflateSync(b, { maxOutputLength: 1 << 22 })),
      );
      if (!(r instanceof VbmError)) for (const m of Object.values(r)) assert.ok(m.length * (m[0]?.length ?? 0) <= 4096);
    }),
    params(400),
  );
});

test('fuzz: CSV, TSV and mutated xlsx design sheets read to a table or a VbmError', async () => {
  const { dir, cleanup } = tempDir('vbm-fuzz-');
  try {
    const cell = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('"', '""', ',', ';', '\t', '\n', '\r\n', '\uFEFF', '=1+1', '-3.5', 'NaN', ''),
      fc.double().map(String),
    );
    const text = fc
      .array(fc.array(cell, { maxLength: 6 }), { maxLength: 8 })
      .chain((rows) =>
        fc
          .constantFrom(',', ';', '\t')
          .map((sep) => rows.map((r) => r.join(sep)).join(fc.sample(fc.constantFrom('\n', '\r\n'), 1)[0])),
      );
    let k = 0;
    await fc.assert(
      fc.asyncProperty(text, fc.constantFrom('csv', 'tsv', 'txt'), async (t, ext) => {
        const p = join(dir, `t${k++}.${ext}`);
        writeFileSync(p, t);
        const r = await onlyVbmErrorAsync(() => readTable(p));
        if (!(r instanceof VbmError)) assert.ok(r.rows.every((row) => row.length === r.header.length));
        rmSync(p);
      }),
      params(150),
    );
    // a real .xlsx (written by another library), then its bytes mutated
    await writeXlsxFile([
      [{ value: 'scan' }, { value: 'age' }],
      [{ value: 'a.nii' }, { value: 61, type: Number }],
      [{ value: 'b.nii' }, { value: 72, type: Number }],
    ] as never).toFile(join(dir, 'good.xlsx'));
    const good = readFileSync(join(dir, 'good.xlsx'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(good.length), { nil: undefined }),
        async (sets, cut) => {
          const b = Uint8Array.from(good);
          for (const [at, v] of sets) b[at] = v;
          const p = join(dir, `x${k++}.xlsx`);
          writeFileSync(p, cut === undefined ? b : b.subarray(0, cut));
          await onlyVbmErrorAsync(() => readTable(p));
          rmSync(p);
        },
      ),
      params(60),
    );
  } finally {
    cleanup();
  }
});

test('fuzz: the analysis-file parser gives a spec or a VbmError for random YAML, JSON and values', () => {
  const { dir, cleanup } = tempDir('vbm-fuzz-');
  try {
    writeFileSync(join(dir, 'design.csv'), 'scan,age\na.nii,1\n');
    const key = fc.constantFrom(
      'design',
      'out',
      'covariates',
      'centring',
      'intercept',
      'mask',
      'implicit_mask',
      'threshold_masking',
      'contrasts',
      'models',
      'results',
      'atlas',
      'permute',
      'report',
      'workers',
      'name',
      'type',
      'columns',
      'weights',
      'vector',
      'absolute',
      'relative',
      'threshold',
      'correction',
      'extent',
      'permutations',
      'tfce',
      'seed',
      'file',
      'x',
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant('design.csv'),
        fc.string({ maxLength: 6 }),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(key, tie('v'), { maxKeys: 5 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (raw) => {
        onlyVbmError(() => parseAnalysisSpec({ design: 'design.csv', ...raw }, dir, 'fuzz'));
        onlyVbmError(() => parseAnalysisSpec(raw, dir, 'fuzz'));
      }),
      params(300),
    );
    let k = 0;
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom('yaml', 'json'), (t, ext) => {
        const p = join(dir, `a${k++}.${ext}`);
        writeFileSync(p, t);
        onlyVbmError(() => readAnalysisFile(p));
        rmSync(p);
      }),
      params(300),
    );
  } finally {
    cleanup();
  }
});

/** Every file under `dir` except those under `skip` (relative path -> SHA-256). */
function tree(dir: string, skip: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (p === skip) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

test('fuzz: runs on mutated design sheets and analysis settings write nothing outside their output folder', async () => {
  const { dir, cleanup } = tempDir('vbm-fuzz-');
  try {
    const cohort = makeCohort({ n: 6, dims: [8, 9, 8], voxelMm: 16, noiseFwhmMm: 20, seed: 2 });
    const design = writeCohort(dir, cohort, { format: 'mixed' });
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    const out = join(dir, 'out');
    const before = tree(dir, out);
    const edit = fc.record({
      row: fc.nat(lines.length - 1),
      col: fc.nat(3),
      text: fc.oneof(
        fc.string({ maxLength: 10 }),
        fc.constantFrom(
          '../../etc/passwd',
          '/tmp',
          '..',
          'out/../../x.nii',
          'scans/smwc1sub-0001.nii,2',
          '',
          'NaN',
          '1e308',
          '-0',
        ),
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(edit, { maxLength: 3 }),
        fc.constantFrom('T:age', 'F:age,sex', 'T:agee', 'x:T:age=1,sex=-1'),
        fc.boolean(),
        async (edits, contrast, results) => {
          const rows = lines.map((l) => l.split(','));
          for (const e of edits) if (rows[e.row]) rows[e.row][e.col] = e.text.replace(/[\n\r]/g, '');
          const p = join(out, '..', 'fuzzed.csv');
          writeFileSync(p, rows.map((r) => r.join(',')).join('\n') + '\n');
          const r = await onlyVbmErrorAsync(async () => {
            const spec = parseAnalysisSpec(
              { design: p, out: 'out', ...(results ? { results: { threshold: 0.05 } } : {}) },
              dir,
              'fuzz',
            );
            spec.models[0].contrasts = [(await import('../src/model/contrasts.js')).parseInlineContrast(contrast)];
            return runPipeline(spec, { workers: 0 });
          });
          void r;
          rmSync(p);
          assert.deepEqual(tree(dir, out), before, 'nothing written or changed outside the output folder');
          if (existsSync(out))
            for (const f of readdirSync(out))
              assert.doesNotMatch(f, /\.tmp-|^\.vbm-lock$/, 'no temporary file or lock left');
          rmSync(out, { recursive: true, force: true });
          mkdirSync(out, { recursive: true });
          rmSync(out, { recursive: true });
        },
      ),
      params(6),
    );
  } finally {
    cleanup();
  }
});
