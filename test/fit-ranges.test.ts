/**
 * The fit split between threads by voxels (estimation/fitRanges.ts, native fitRange: each scan's file
 * mapped and read in place) against the fit that reads every scan into memory and adds fixed chunks of
 * scans (fitChunks.ts, VBM_FIT_STREAM=read; and the WebAssembly kernel): the sums must be the same bits
 * for any number of ranges, with range edges at row and slice starts and in the middle of rows; each
 * scan's content hash must be vbm's piecewise XXH3 of the whole file (checked with an independent implementation);
 * a file cut short after its header was read must be a VbmError naming it. The hashes computed by the
 * ranges from the bytes they read (each range its pieces of each file) must be the digest of the whole
 * file for 1-3 ranges and passes, with headers, extensions, gaps and trailing bytes, pieces across
 * range edges, with and without the smoothness' +z neighbours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { pieceHashReference } from './support/xxh3.js';
import { PIECE_BYTES } from '../src/node/contentHash.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readHeadersOnly } from '../src/node/nifti/read.js';
import type { NiftiHeader } from '../src/io/nifti/header.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { FIT_CHUNK, streamGroupSums } from '../src/estimation/fitChunks.js';
import {
  MAPPED_BUDGET,
  type RangeJob,
  PASS_SCANS,
  SPAN,
  mappedWindow,
  rangeJobs,
  rangeRefusal,
  rangeReports,
  runRange,
  runRangesNative,
  guidedRanges,
  sumRange,
  rangeEdge,
} from '../src/estimation/fitRanges.js';
import { createMergeOrder, createSharedSums } from '../src/estimation/chunkMerge.js';
import { BLOCK, type FitSums } from '../src/estimation/accumulate.js';
import type { FitJob, ScanReport } from '../src/estimation/scanFold.js';
import { loadNativeFit } from '../src/estimation/nativeFit.js';
import { loadAddon } from '../src/node/addon.js';
import { VbmError } from '../src/errors.js';
import { VBM_CLI } from './support/cli.js';

const noRanges = loadNativeFit()?.fitRange ? false : 'no native fit kernel with fitRange (VBM_NATIVE=0 build)';

/**
 * fn() with the addon's fitRange taking the scans' bytes each way it can ('read': pread into slots;
 * 'map': mapped), the way in use restored after.
 */
async function eachFitRead(fn: (mode: string) => void | Promise<void>): Promise<void> {
  const addon = loadAddon() as { fitRead?(mode?: string): string } | null;
  if (typeof addon?.fitRead !== 'function') assert.fail('an addon with fitRange has fitRead');
  const before = addon.fitRead();
  try {
    for (const mode of ['read', 'map']) {
      assert.equal(addon.fitRead(mode), mode);
      await fn(mode);
    }
  } finally {
    addon.fitRead(before);
  }
}

// 32 x 32 voxels per slice = BLOCK: with every voxel a candidate, every range edge is a slice's first voxel
const DIMS: [number, number, number] = [32, 32, 12];
const AFFINE = [
  [2, 0, 0, -31],
  [0, 2, 0, -31],
  [0, 0, 2, -11],
  [0, 0, 0, 1],
];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The totals the ranges summed are the reference's bits, and (where the addon hashes) the digests each file's. */
function assertSumsAndDigests(got: FitSums, want: FitSums, rj: RangeJob, digests: string[], what: string): void {
  assertSameSums(got, want, what);
  if (rj.hashing)
    assert.deepEqual(
      rangeReports(rj, []).map((r) => r.hash),
      digests,
      `${what}: the digests`,
    );
}

/** This process's bytes through read calls so far (/proc/self/io rchar), or undefined where there is none. */
function readCallBytes(): number | undefined {
  try {
    const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The two masks the driver's tests take on a grid of nvox voxels: every voxel, and ~60% of them at random. */
function everyAndSparse(nvox: number, seed: number): (readonly [string, Int32Array])[] {
  const rnd = lcg(seed);
  return [
    ['every voxel', Int32Array.from({ length: nvox }, (_, i) => i)],
    ['a sparse mask', Int32Array.from(Array.from({ length: nvox }, (_, i) => i).filter(() => rnd() < 0.6))],
  ];
}

/** n scans with smooth-ish values, some NaN, some zero, some below the threshold; the design rows. */
function writeScans(
  dir: string,
  n: number,
  datatype: number = DT.FLOAT32,
  dims: [number, number, number] = DIMS,
): { paths: string[]; x: number[][] } {
  const rnd = lcg(11);
  const nvox = dims[0] * dims[1] * dims[2];
  const paths: string[] = [];
  const x: number[][] = [];
  for (let i = 0; i < n; i++) {
    const data = new Float32Array(nvox);
    for (let v = 0; v < nvox; v++) data[v] = 0.5 + 0.3 * Math.sin(v / 37 + i) + 0.2 * rnd();
    data[(i * 97) % nvox] = NaN;
    data[(i * 131 + 5) % nvox] = 0;
    data[(i * 53 + 17) % nvox] = 0.1; // below the threshold
    const p = join(dir, `s${i}.nii`);
    writeFileSync(p, encodeNifti({ dims, affine: AFFINE, data }, { datatype }));
    paths.push(p);
    // a zero term in every fifth row (skipped as addScans skips it)
    x.push([1, i % 5 === 0 ? 0 : (i - n / 2) / n, i % 2]);
  }
  return { paths, x };
}

function job(paths: string[], x: number[][], cand: Int32Array, dims: [number, number, number] = DIMS): FitJob {
  return {
    scans: paths.map((path, i) => ({
      ref: { row: i, path, volume: 0 },
      x: x[i],
      inResidualSubset: i % 3 === 0,
      scale: 1 + 0.01 * (i % 7),
    })),
    layout: { dims, cand, p: 3, smoothness: true },
    threshold: { type: 'absolute', value: 0.2 },
    implicit: true,
    reference: { dims, affine: AFFINE, path: paths[0] },
  };
}

async function sums(
  j: FitJob,
  workers: number,
  headers: ReadonlyMap<string, NiftiHeader>,
  env: Record<string, string> = {},
): Promise<{ sums: FitSums; reports: ScanReport[] }> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const reports: ScanReport[] = [];
    const [s] = await streamGroupSums([j], workers, (r) => reports.push(r), headers);
    return { sums: s, reports: reports.sort((a, b) => a.row - b.row) };
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function assertSameSums(got: FitSums, want: FitSums, what: string): void {
  for (const k of ['ok', 'vmin', 'vmax', 'yy', 'xty', 'ryy', 'rxty'] as const) {
    assert.equal(got[k].length, want[k].length, `${what}: ${k} length`);
    assert.ok(bytes(got[k]).equals(bytes(want[k])), `${what}: ${k} differs from the read path's`);
  }
}

/** Reports as the read path gives them; the mean within 1e-12 (its sum is added per block, in another order). */
function assertSameReports(got: ScanReport[], want: ScanReport[], what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    assert.deepEqual(
      { row: g.row, hash: g.hash, removed: g.removed, allZero: g.allZero, datatype: g.datatype, isFloat: g.isFloat },
      { row: w.row, hash: w.hash, removed: w.removed, allZero: w.allZero, datatype: w.datatype, isFloat: w.isFloat },
      `${what}: scan ${i}`,
    );
    assert.ok(Math.abs(g.mean - w.mean) <= 1e-12 * Math.abs(w.mean), `${what}: scan ${i} mean ${g.mean} vs ${w.mean}`);
  }
}

/** Range t of `ranges` of equal cost (the edges the fit's guided ranges are made of). */
function costRange(j: RangeJob, t: number, ranges: number): [number, number] {
  const nvox = j.dims[0] * j.dims[1] * j.dims[2];
  return [rangeEdge(j.cand, nvox, t / ranges), rangeEdge(j.cand, nvox, (t + 1) / ranges)];
}

test('voxel ranges: whole blocks, in order, covering every candidate once, split at equal shares of their cost', () => {
  for (const n of [1, BLOCK - 1, BLOCK, BLOCK + 1, 7 * BLOCK + 5, 12 * BLOCK]) {
    const nBlocks = Math.ceil(n / BLOCK);
    // every voxel of the grid a candidate, or the candidates crowded into the grid's first fifth and a tail
    const dense = { cand: Int32Array.from({ length: n }, (_, i) => i), nvox: n };
    const crowded = {
      cand: Int32Array.from({ length: n }, (_, i) => (i < 0.8 * n ? i : 4 * n + 10 * i)),
      nvox: 15 * n,
    };
    for (const { cand, nvox } of [dense, crowded])
      for (const ranges of [1, 2, 3, 5, nBlocks + 2]) {
        const what = `n ${n}, grid ${nvox}, ${ranges} ranges`;
        let at = 0;
        for (let t = 0; t < ranges; t++) {
          const [r0, r1] = [rangeEdge(cand, nvox, t / ranges), rangeEdge(cand, nvox, (t + 1) / ranges)];
          assert.equal(r0, at, `${what}: range ${t} starts where the one before ended`);
          assert.ok(r1 >= r0 && (r0 % BLOCK === 0 || r0 === n), `${what}: range ${t} starts on a block`);
          // the documented cost (fitRanges.ts rangeCost): a range of candidates [0, c) costs the grid up to
          // candidate c's voxel plus 2.5 per candidate; range t starts at the first block reaching t / ranges
          const cost = (c: number): number => (c >= n ? nvox : cand[c]) + 2.5 * c;
          const edge = (t / ranges) * cost(n);
          if (t > 0 && r0 < n) assert.ok(cost(r0) >= edge, `${what}: range ${t} starts at or past ${edge}`);
          if (t > 0 && r0 >= BLOCK)
            assert.ok(cost(r0 - BLOCK) < edge, `${what}: range ${t} starts at the first such block`);
          at = r1;
        }
        assert.equal(at, n, `${what}: the ranges end at the last candidate`);
      }
    // the native threads' ranges: whole blocks in order covering every candidate, the first ones widest
    for (const { cand, nvox } of [dense, crowded])
      for (const threads of [1, 2, 3]) {
        const what = `n ${n}, grid ${nvox}, ${threads} threads`;
        const ranges = guidedRanges(cand, nvox, threads);
        let at = 0;
        for (const [r0, r1] of [...ranges].sort((a, b) => a[0] - b[0])) {
          assert.equal(r0, at, `${what}: a range starts where the one before ended`);
          assert.ok(r1 > r0 && r0 % BLOCK === 0, `${what}: a range of whole blocks`);
          at = r1;
        }
        assert.equal(at, n, `${what}: the ranges end at the last candidate`);
        assert.ok(
          ranges.length <= 3 * threads && (threads > 1 || ranges.length === 1),
          `${what}: ${ranges.length} ranges`,
        );
        if (n >= 12 * BLOCK && threads === 2 && nvox === n) {
          // handed out widest first; the one that ends the grid (and hashes what follows it) among the first
          const size = ranges.map(([r0, r1]) => r1 - r0);
          assert.ok(size[0] > 2 * (size.at(-1) ?? 0), `${what}: the first ranges are the widest (${size.join(', ')})`);
          const last = ranges.findIndex(([, r1]) => r1 === n);
          assert.ok(last >= 0 && last < threads, `${what}: the grid's last range is handed out among the first`);
        }
      }
  }
});

test(
  'the scans read (or mapped) and split by voxels give the same sums, bit for bit, as the scans read in chunks, for 0-3 ranges (and more ranges than blocks)',
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const n = 2 * FIT_CHUNK + 5; // three chunks, the last one short
      const { paths, x } = writeScans(dir, n);
      const headers = await readHeadersOnly(paths);
      const nvox = DIMS[0] * DIMS[1] * DIMS[2];
      const all = Int32Array.from({ length: nvox }, (_, i) => i); // range edges at slice (and row) starts
      const rnd = lcg(5);
      const sparse = Int32Array.from(Array.from({ length: nvox }, (_, i) => i).filter(() => rnd() < 0.55)); // edges mid-row
      for (const [name, cand, widths] of [
        ['every voxel', all, [0, 1, 2, 3]],
        ['a sparse mask', sparse, [0, 2, 3, Math.ceil(sparse.length / BLOCK) + 1]],
      ] as const) {
        const j = job(paths, x, cand);
        assert.equal(rangeRefusal([j], headers), undefined, 'these scans are split by voxels');
        const read = await sums(j, 0, headers, { VBM_FIT_STREAM: 'read' });
        const wasm = await sums(j, 2, headers, { VBM_FIT_STREAM: 'read', VBM_FIT_KERNEL: 'wasm' });
        assertSameSums(wasm.sums, read.sums, `${name}: the WebAssembly kernel`);
        await eachFitRead(async (mode) => {
          for (const w of widths) {
            const got = await sums(j, w, headers);
            assertSameSums(got.sums, read.sums, `${name}, ${w} ranges, ${mode}`);
            assertSameReports(got.reports, read.reports, `${name}, ${w} ranges, ${mode}`);
          }
        });
      }
    } finally {
      cleanup();
    }
  },
);

test(
  "spans narrower than a slice: each span's +z neighbours read apart from its voxels, the same sums and digests",
  { skip: noRanges },
  async () => {
    // slices of 256 x 128 = 32768 voxels, wider than a span (SPAN candidates) even of a sparse mask's: the
    // slot holds a span's voxels and, nxy voxels on, its +z neighbours, with bytes between never read
    const dims: [number, number, number] = [256, 128, 5];
    assert.ok(SPAN / 0.6 < 0.9 * dims[0] * dims[1], 'a span of the sparse mask is narrower than a slice');
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, FIT_CHUNK + 3, DT.FLOAT32, dims);
      const digests = paths.map((p) => pieceHashReference(readFileSync(p)));
      const headers = await readHeadersOnly(paths);
      const native = loadNativeFit();
      assert.ok(native);
      const voxelBytes = paths.length * dims[0] * dims[1] * dims[2] * 4;
      for (const [name, cand] of everyAndSparse(dims[0] * dims[1] * dims[2], 21)) {
        const j = job(paths, x, cand, dims);
        const read = await sums(j, 0, headers, { VBM_FIT_STREAM: 'read' });
        await eachFitRead((mode) => {
          for (const ranges of [1, 3]) {
            const { totals } = createMergeOrder([j.layout]);
            const [rj] = rangeJobs([j], headers, totals);
            const before = readCallBytes();
            for (let r = 0; r < ranges; r++) sumRange(native, rj, ...costRange(rj, r, ranges));
            const bytes = before === undefined ? undefined : (readCallBytes() ?? 0) - before;
            const what = `${name}, ${ranges} ranges, ${mode}`;
            assertSumsAndDigests(totals[0], read.sums, rj, digests, what);
            // the way taken, seen in the read calls (Linux): reading every voxel's bytes at least once,
            // mapping only what no voxel's range holds (the header)
            if (bytes !== undefined && name === 'every voxel')
              assert.ok(
                mode === 'read' ? bytes >= voxelBytes : bytes < 0.05 * voxelBytes,
                `${what}: ${bytes} bytes read for ${voxelBytes} of voxels`,
              );
          }
        });
      }
    } finally {
      cleanup();
    }
  },
);

test(
  'a span whose slots would pass the reading budget (a very sparse mask) is mapped: the same sums and digests',
  { skip: noRanges || (readCallBytes() === undefined ? 'needs /proc/self/io (Linux)' : false) },
  async () => {
    // two scans of 256^3 voxels (64 MiB each) and a mask of two voxels at opposite corners: one span
    // from the first byte of the voxels to the last, so two slots would take 128 MiB, over the 64 MiB
    // budget; the range maps the scans instead of reading them (few bytes through read calls)
    const dims: [number, number, number] = [256, 256, 256];
    const nvox = dims[0] * dims[1] * dims[2];
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, 2, DT.FLOAT32, dims);
      const digests = paths.map((p) => pieceHashReference(readFileSync(p)));
      const headers = await readHeadersOnly(paths);
      const j = job(paths, x, Int32Array.from([0, nvox - 1]), dims);
      const read = await sums(j, 0, headers, { VBM_FIT_STREAM: 'read' });
      const addon = loadAddon() as { fitRead?(mode?: string): string } | null;
      const before = addon?.fitRead?.();
      try {
        assert.equal(addon?.fitRead?.('read'), 'read');
        const { totals } = createMergeOrder([j.layout]);
        const [rj] = rangeJobs([j], headers, totals);
        const r0 = readCallBytes() ?? 0;
        sumRange(loadNativeFit()!, rj, 0, rj.cand.length);
        const bytes = (readCallBytes() ?? 0) - r0;
        assertSumsAndDigests(totals[0], read.sums, rj, digests, 'two far voxels');
        assert.ok(bytes < 1 << 20, `${bytes} bytes through read calls: the scans were read, not mapped`);
      } finally {
        if (before) addon?.fitRead?.(before);
      }
    } finally {
      cleanup();
    }
  },
);

test(
  'summed in passes of one or two chunks of scans (each pass continuing the totals), the sums are the same bits',
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, 2 * FIT_CHUNK + 5);
      const headers = await readHeadersOnly(paths);
      const rnd = lcg(9);
      const cand = Int32Array.from(
        Array.from({ length: DIMS[0] * DIMS[1] * DIMS[2] }, (_, i) => i).filter(() => rnd() < 0.7),
      );
      const j = job(paths, x, cand);
      const read = await sums(j, 0, headers, { VBM_FIT_STREAM: 'read' });
      const native = loadNativeFit();
      assert.ok(native);
      await eachFitRead((mode) => {
        for (const passScans of [FIT_CHUNK, 2 * FIT_CHUNK])
          for (const ranges of [1, 3]) {
            const { totals } = createMergeOrder([j.layout]);
            const [rj] = rangeJobs([j], headers, totals);
            for (let t = 0; t < ranges; t++) sumRange(native, rj, ...costRange(rj, t, ranges), passScans);
            assertSameSums(totals[0], read.sums, `passes of ${passScans} scans, ${ranges} ranges, ${mode}`);
          }
      });
    } finally {
      cleanup();
    }
  },
);

test("a pass's mapped windows add up to at most the 128 MiB budget per thread, for any number of scans", () => {
  // by hand: 128 MiB = 134,217,728 bytes; passes of at most 16 chunks of 32 = 512 scans
  assert.equal(MAPPED_BUDGET, 134_217_728);
  assert.equal(PASS_SCANS, 512);
  assert.equal(mappedWindow(1), 8 * 1024 * 1024, 'one scan: the 8 MiB cap');
  assert.equal(mappedWindow(16), 8 * 1024 * 1024, '16 scans: 134217728 / 16 = 8 MiB exactly');
  assert.equal(mappedWindow(17), 7_895_160, '134217728 / 17 = 7895160.47');
  assert.equal(mappedWindow(379), 354_136, 'the bench cohort: 134217728 / 379 = 354136.49');
  assert.equal(mappedWindow(512), 262_144, 'a full pass: 134217728 / 512 = 256 KiB');
  assert.equal(mappedWindow(4096), 65_536, 'the 64 KiB floor (only above 2048 scans, more than a pass holds)');
  for (const m of [1, 2, 15, 16, 17, 100, 379, 511, 512, 513, 1000, 1537, 5000, 100_000]) {
    let mapped = 0;
    for (let p0 = 0; p0 < m; p0 += PASS_SCANS) {
      const k = Math.min(PASS_SCANS, m - p0);
      mapped = Math.max(mapped, k * mappedWindow(k));
    }
    assert.ok(mapped <= 134_217_728, `${m} scans: ${mapped} bytes of windows in one pass`);
  }
});

test(
  "bytes released behind every span (all scans in one call, or an munmap per scan) leave the sums' bits unchanged",
  { skip: noRanges },
  async (t) => {
    // 40 slices of 32 x 32: 3 spans (of SPAN / BLOCK = 16 blocks) for one range, so with a window of 0 bytes
    // the driver releases every file's bytes below each span's first voxel twice. A release that took bytes a
    // later span reads would fault (SIGSEGV) in the munmap way; the batched way drops pages that fault
    // back in from the page cache, so there the sums show that the bookkeeping of the two ways agrees.
    // Where the addon hashes as it reads, the 64 KiB pieces straddle the spans' releases: the digests must
    // still be those of the whole files (hash-wasm, piece by piece).
    const addon = loadAddon() as { mapRelease?(mode?: string): string; fitRead?(mode?: string): string } | null;
    if (typeof addon?.mapRelease !== 'function') assert.fail('an addon with fitRange has mapRelease');
    const dims: [number, number, number] = [32, 32, 40];
    const { dir, cleanup } = tempDir();
    const before = addon.mapRelease();
    // releases are of mapped bytes: the scans mapped here
    const readBefore = addon.fitRead?.();
    addon.fitRead?.('map');
    try {
      const { paths, x } = writeScans(dir, FIT_CHUNK + 3, DT.FLOAT32, dims);
      const digests = paths.map((p) => pieceHashReference(readFileSync(p)));
      const headers = await readHeadersOnly(paths);
      for (const [name, cand] of everyAndSparse(dims[0] * dims[1] * dims[2], 13)) {
        const j = job(paths, x, cand, dims);
        const read = await sums(j, 0, headers, { VBM_FIT_STREAM: 'read' });
        const native = loadNativeFit();
        assert.ok(native);
        for (const mode of ['unmap', 'batched'])
          for (const ranges of [1, 2]) {
            addon.mapRelease(mode);
            const { totals } = createMergeOrder([j.layout]);
            const [rj] = rangeJobs([j], headers, totals);
            for (let r = 0; r < ranges; r++) sumRange(native, rj, ...costRange(rj, r, ranges), PASS_SCANS, 0);
            // 'batched' stays only where process_madvise works (Linux >= 6.13); else the munmap way ran twice
            const used: string = addon.mapRelease();
            if (used !== mode) t.diagnostic(`${name}: released by ${used}, not ${mode} (refused here)`);
            const what: string = `${name}, released by ${used}, ${ranges} ranges`;
            assertSumsAndDigests(totals[0], read.sums, rj, digests, what);
          }
      }
    } finally {
      addon.mapRelease(before);
      if (readBefore) addon.fitRead?.(readBefore);
      cleanup();
    }
  },
);

test(
  "each scan's reported hash is the piecewise XXH3 of its whole file (an independent implementation)",
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, 5);
      const headers = await readHeadersOnly(paths);
      const cand = Int32Array.from({ length: 3000 }, (_, i) => 2 * i);
      for (const w of [0, 2, 3]) {
        const { reports } = await sums(job(paths, x, cand), w, headers);
        assert.deepEqual(
          reports.map((r) => r.hash),
          paths.map((p) => pieceHashReference(readFileSync(p))),
          `${w} ranges`,
        );
      }
    } finally {
      cleanup();
    }
  },
);

test(
  'a scan cut short after its header was read is a VbmError naming it, in this thread and on native threads',
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, 6);
      const headers = await readHeadersOnly(paths);
      const h = headers.get(paths[4]) as NiftiHeader;
      truncateSync(paths[4], h.voxOffset + 4 * 1000);
      const cand = Int32Array.from({ length: 5000 }, (_, i) => 2 * i);
      for (const w of [0, 2])
        await assert.rejects(
          sums(job(paths, x, cand), w, headers),
          (e: unknown) =>
            e instanceof VbmError &&
            e.message.includes(paths[4]) &&
            /shorter than its header says/.test(e.message) &&
            new RegExp(`the file is ${h.voxOffset + 4000} bytes`).test(e.message),
          `${w} ranges`,
        );
    } finally {
      cleanup();
    }
  },
);

test(
  'the native threads take no range after one fails, and the failure waits for the ranges under way',
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    const native = loadNativeFit()!;
    const real = native.fitRangeAsync;
    try {
      const { paths, x } = writeScans(dir, 2);
      const headers = await readHeadersOnly(paths);
      const cand = Int32Array.from({ length: DIMS[0] * DIMS[1] * DIMS[2] }, (_, i) => i);
      const j = job(paths, x, cand);
      const [rj] = rangeJobs([j], headers, [createSharedSums(j.layout)]);
      const ranges = guidedRanges(cand, cand.length, 2).length;
      assert.ok(ranges >= 4, `enough ranges to hand out (${ranges})`);
      // a stand-in driver: the second range handed out fails at once (as a scan cut short does at its
      // mapping), the others end a turn of the event loop later; so the first is still under way then
      let begun = 0;
      let underWay = 0;
      native.fitRangeAsync = () => {
        if (begun++ === 1)
          return Promise.reject(Object.assign(new Error('1:planted failure'), { code: 'VBM_MAP_FAILED' }));
        underWay++;
        return new Promise<void>((resolve) => setImmediate(() => (underWay--, resolve())));
      };
      await assert.rejects(
        runRangesNative([rj], 2, () => undefined),
        (e: unknown) => e instanceof VbmError && e.message.includes(paths[1]) && /planted failure/.test(e.message),
      );
      assert.equal(underWay, 0, 'the range under way had ended before the failure was reported');
      assert.equal(begun, 2, `no range begun after the failure (${ranges} ranges in all)`);
    } finally {
      native.fitRangeAsync = real;
      cleanup();
    }
  },
);

test(
  'scans the kernel cannot read in place (gzip, int16, or forced) go the read path',
  { skip: noRanges },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { paths, x } = writeScans(dir, 2, DT.INT16);
      const cand = Int32Array.from({ length: 100 }, (_, i) => i);
      assert.match(rangeRefusal([job(paths, x, cand)], await readHeadersOnly(paths)) ?? '', /not a plain float32/);
      const gz = join(dir, 'g.nii.gz');
      writeFileSync(
        gz,
        encodeNifti(
          { dims: DIMS, affine: AFFINE, data: new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]) },
          { gzip: true },
        ),
      );
      assert.match(
        rangeRefusal([job([gz], [[1, 0, 0]], cand)], await readHeadersOnly([gz])) ?? '',
        /not a plain float32/,
      );
      const plain = writeScans(dir, 1);
      const headers = await readHeadersOnly(plain.paths);
      assert.equal(rangeRefusal([job(plain.paths, plain.x, cand)], headers), undefined);
      // a path longer than the native driver takes (4095 bytes) goes the read path, whose open names it
      const long = `/${'d/'.repeat(2048)}s.nii`;
      const h = headers.get(plain.paths[0])!;
      const longHeaders = new Map([[long, { ...h, path: long, imagePath: long }]]);
      assert.match(rangeRefusal([job([long], plain.x, cand)], longHeaders) ?? '', /over 4095 bytes/);
      process.env.VBM_FIT_STREAM = 'read';
      try {
        assert.equal(rangeRefusal([job(plain.paths, plain.x, cand)], headers), 'VBM_FIT_STREAM=read');
      } finally {
        delete process.env.VBM_FIT_STREAM;
      }
    } finally {
      cleanup();
    }
  },
);

// 64 x 48 x 30 float32 voxels (368,640 bytes): six pieces of 64 KiB, so ranges' edges fall inside pieces
const BIG: [number, number, number] = [64, 48, 30];

/**
 * n scans of BIG, laid out three ways in turn: as encodeNifti writes them; with voxels at an odd
 * vox_offset (1000: a gap after the header); with an extension, vox_offset 1012 and 777 trailing bytes.
 */
function writeLaidOutScans(dir: string, n: number): string[] {
  const nvox = BIG[0] * BIG[1] * BIG[2];
  const rnd = lcg(3);
  return Array.from({ length: n }, (_, i) => {
    const data = new Float32Array(nvox);
    for (let v = 0; v < nvox; v++) data[v] = 0.5 + 0.4 * rnd();
    const plain = encodeNifti({ dims: BIG, affine: AFFINE, data });
    const vox = new DataView(plain.buffer, plain.byteOffset).getFloat32(108, true);
    let bytes = plain;
    if (i % 3 > 0) {
      const off = i % 3 === 1 ? 1000 : 1012;
      const tail = i % 3 === 1 ? 0 : 777;
      bytes = new Uint8Array(off + 4 * nvox + tail);
      bytes.set(plain.subarray(0, 348));
      bytes.set(plain.subarray(vox), off);
      for (let k = 0; k < tail; k++) bytes[off + 4 * nvox + k] = (k * 13 + i) & 255;
      const dv = new DataView(bytes.buffer);
      dv.setFloat32(108, off, true);
      if (i % 3 === 2) {
        // an extension: flag, then esize 32 and ecode 6 (a comment) with text
        bytes[348] = 1;
        dv.setInt32(352, 32, true);
        dv.setInt32(356, 6, true);
        bytes.set(new TextEncoder().encode(`scan ${i} comment`), 360);
      }
    }
    const p = join(dir, `b${i}.nii`);
    writeFileSync(p, bytes);
    return p;
  });
}

function bigJob(paths: string[], cand: Int32Array, smoothness: boolean): FitJob {
  return {
    scans: paths.map((path, i) => ({
      ref: { row: i, path, volume: 0 },
      x: [1, (i - paths.length / 2) / paths.length],
      inResidualSubset: i % 2 === 0,
    })),
    layout: { dims: BIG, cand, p: 2, smoothness },
    threshold: { type: 'absolute', value: 0.2 },
    implicit: true,
    reference: { dims: BIG, affine: AFFINE, path: paths[0] },
  };
}

// skipped only where the addon lacks XXH3: pieces of another size than contentHash.ts's fail the tests below
const noHashing =
  noRanges ||
  ((loadAddon() as { fitRangeHashes?: boolean } | null)?.fitRangeHashes
    ? false
    : 'the addon was built without XXH3 (no libxxhash-dev)');

test(
  "the ranges hash each scan's pieces as they read them: the whole file's digest for 1-3 ranges and passes",
  { skip: noHashing },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const paths = writeLaidOutScans(dir, FIT_CHUNK + 3); // two passes of one chunk each when passScans = FIT_CHUNK
      const want = paths.map((p) => pieceHashReference(readFileSync(p)));
      const headers = await readHeadersOnly(paths);
      const native = loadNativeFit()!;
      const nvox = BIG[0] * BIG[1] * BIG[2];
      // not from the first voxel nor to the last (header gap and trailing voxels hashed by ranges 0 and T-1)
      const cand = Int32Array.from({ length: nvox }, (_, i) => i).filter(
        (i) => i > 700 && i < nvox - 900 && i % 3 !== 1,
      );
      // the fit's kernel level picks the XXH3 build too: AVX2 (avx2, avx512) or the baseline one (scalar)
      const addon = loadAddon() as { fitSimd?(name: string): string; fitLevel?(): string } | null;
      const widest = addon?.fitLevel?.();
      const cases = [true, false].flatMap((smoothness) =>
        (addon?.fitSimd && widest !== 'scalar' ? ['scalar', widest] : [widest]).map((level) => ({ smoothness, level })),
      );
      for (const { smoothness, level } of cases) {
        if (level) addon?.fitSimd?.(level);
        const j = bigJob(paths, cand, smoothness);
        assert.equal(rangeRefusal([j], headers), undefined, 'these scans are split by voxels');
        await eachFitRead((mode) => {
          for (const ranges of [1, 2, 3])
            for (const passScans of [FIT_CHUNK, 16 * FIT_CHUNK]) {
              const what = `smoothness ${smoothness}, ${level} kernel, ${ranges} ranges, passes of ${passScans}, ${mode}`;
              const [rj] = rangeJobs([j], headers, [createSharedSums(j.layout)]);
              assert.ok(rj.hashing, 'the addon hashes');
              if (ranges === 3) {
                // the edges fall inside pieces for every layout, so pieces straddle ranges
                const [r0] = costRange(rj, 1, ranges);
                for (const off of [352, 1000, 1012]) assert.notEqual((off + 4 * cand[r0]) % PIECE_BYTES, 0);
              }
              for (let t = 0; t < ranges; t++) sumRange(native, rj, ...costRange(rj, t, ranges), passScans);
              assert.deepEqual(
                rangeReports(rj, []).map((r) => r.hash),
                want,
                what,
              );
            }
        });
      }
      if (widest) addon?.fitSimd?.(widest);
      // an addon without XXH3: runRange (one thread) reads and hashes the files in JavaScript, the same digests
      const [rj] = rangeJobs([bigJob(paths, cand, true)], headers, [
        createSharedSums(bigJob(paths, cand, true).layout),
      ]);
      rj.hashing = undefined;
      const notes: string[] = [];
      runRange([rj], (n) => void (notes[n.i] = n.hash));
      assert.deepEqual(notes, want, 'hashed in JavaScript');
      assert.deepEqual(
        rangeReports(rj, notes).map((r) => r.hash),
        want,
      );
      // and beside the native threads: this thread hashes every file while they sum, the same sums
      const [rn] = rangeJobs([bigJob(paths, cand, true)], headers, [
        createSharedSums(bigJob(paths, cand, true).layout),
      ]);
      rn.hashing = undefined;
      const notesNative: string[] = [];
      await runRangesNative([rn], 2, (n) => void (notesNative[n.i] = n.hash));
      assert.deepEqual(notesNative, want, 'hashed in JavaScript beside the native threads');
      for (const k of ['ok', 'vmin', 'vmax', 'yy', 'xty', 'ryy', 'rxty'] as const)
        assert.deepEqual(rn.totals[k], rj.totals[k], `${k}: the same sums as in one thread`);
    } finally {
      cleanup();
    }
  },
);

test(
  'a scan whose size changed after the fit began is a VbmError saying it changed while vbm read it',
  { skip: noHashing },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const paths = writeLaidOutScans(dir, 3);
      const headers = await readHeadersOnly(paths);
      const cand = Int32Array.from({ length: 5000 }, (_, i) => 3 * i);
      const j = bigJob(paths, cand, true);
      const [rj] = rangeJobs([j], headers, [createSharedSums(j.layout)]);
      appendFileSync(paths[1], new Uint8Array(10));
      assert.throws(
        () => sumRange(loadNativeFit()!, rj, 0, rj.cand.length),
        (e: unknown) =>
          e instanceof VbmError &&
          e.message.includes(paths[1]) &&
          /changed while vbm read it/.test(e.message) &&
          new RegExp(`the file is ${readFileSync(paths[1]).length} bytes`).test(e.message),
      );
    } finally {
      cleanup();
    }
  },
);

/**
 * `vbm run` on 70 scans of `dims` with 2 worker threads and no limit, then with `workers` under an
 * open-file limit of `limit` (bash ulimit: the hard limit too, so Node cannot raise it): the same images.
 */
function sameImagesUnderLimit(dims: [number, number, number], limit: number, workers: number): void {
  const { dir, cleanup } = tempDir();
  try {
    const { paths } = writeScans(dir, 70, DT.FLOAT32, dims);
    writeFileSync(
      join(dir, 'design.csv'),
      ['scan,age', ...paths.map((p, i) => `${p},${20 + ((i * 37) % 50)}`)].join('\n') + '\n',
    );
    const args = ['run', join(dir, 'design.csv'), '-q', '--contrast', 'age+:T:age=1'];
    const free = spawnSync(process.execPath, [VBM_CLI, ...args, '--workers', '2', '--out', join(dir, 'free')], {
      encoding: 'utf8',
    });
    assert.equal(free.status, 0, free.stderr);
    const cmd = `ulimit -n ${limit} && exec "$0" "$@"`;
    const low = spawnSync(
      'bash',
      ['-c', cmd, process.execPath, VBM_CLI, ...args, '--workers', String(workers), '--out', join(dir, 'low')],
      { encoding: 'utf8' },
    );
    assert.equal(low.status, 0, low.stderr);
    const images = readdirSync(join(dir, 'free')).filter((f) => f.endsWith('.nii'));
    assert.ok(images.length >= 6, images.join(' '));
    for (const f of images)
      assert.ok(readFileSync(join(dir, 'low', f)).equals(readFileSync(join(dir, 'free', f))), `${f}: the same bytes`);
  } finally {
    cleanup();
  }
}

const noUlimit = noRanges || (process.platform !== 'linux' ? 'needs bash ulimit (Linux)' : false);

test(
  'under a low open-file limit the fit maps the scans (no descriptor held per scan): the same images',
  { skip: noUlimit },
  () =>
    // 70 scans: reading them, a range would hold 71 descriptors, and with 64 to spare more than the 100
    // allowed here; the driver maps them instead (it keeps none open), as without the limit it reads them
    sameImagesUnderLimit(DIMS, 100, 2),
);

test(
  'more ranges at once than four under an open-file limit: the ranges that read keep within it, the same images',
  { skip: noUlimit },
  () =>
    // 70 scans under a limit of 400: a few ranges reading them at once fit, but 8 ranges at once reading would
    // hold 568; those beyond the limit map the scans instead
    sameImagesUnderLimit([64, 64, 24], 400, 8),
);
