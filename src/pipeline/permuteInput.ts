/**
 * Permutation inference for one contrast of a finished analysis (the library entry point): reads
 * the analysis folder (model.json, mask, contrast) and streams its scans into the permutation
 * test of permutation/permute.ts, which works on plain data.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { affineDistance } from '../io/nifti/affine.js';
import { decodeVolume, type NiftiFile, openNifti } from '../node/nifti/read.js';
import { hashLike } from '../node/contentHash.js';
import type { BatchResult } from '../permutation/engine.js';
import {
  type PermutationInput,
  type PermutationResult,
  type PermuteOptions,
  type PreparedScratch,
  type SharedScratch,
  permutationShare,
  permutationTest,
  prepareSharedScratch,
  planScheme,
  withVarianceGroups,
} from '../permutation/permute.js';
import type { Analysis } from './analysis.js';
import { pad } from './outputs.js';

/** The permutation test of one contrast of a finished analysis, its scans read once from their files. */
export async function permuteContrast(a: Analysis, opts: PermuteOptions): Promise<PermutationResult> {
  const t0 = performance.now();
  const res = await permutationTest(contrastInput(a, opts), withScratch(a, opts));
  res.seconds.read = (performance.now() - t0) / 1000 - res.seconds.permute;
  return res;
}

/** One share of a contrast's permutation test: rearrangements [first, first + count), first a multiple of PERMUTATION_CHUNK. */
export async function permuteContrastShare(
  a: Analysis,
  opts: PermuteOptions,
  first: number,
  count: number,
): Promise<BatchResult> {
  return permutationShare(contrastInput(a, opts), withScratch(a, opts), first, count);
}

/** Write the scratch file shared by a job's tasks for a contrast (its scans read once) and return the prepared sums and observed map. */
export async function prepareContrastScratch(
  a: Analysis,
  opts: PermuteOptions,
  shared: Omit<SharedScratch, 'prepared' | 'blocks'>,
): Promise<PreparedScratch> {
  return prepareSharedScratch(contrastInput(a, opts), opts, shared);
}

/** Data larger than the memory budget go to a scratch file in the analysis folder (a hidden name, removed at the end). */
function withScratch(a: Analysis, opts: PermuteOptions): PermuteOptions {
  return { scratch: join(a.dir, `.perm_${pad(a.contrast(opts.contrast).index)}`), ...opts };
}

/** The permutation input of a contrast of an analysis (scans are read when the test starts). */
function contrastInput(a: Analysis, opts: PermuteOptions): PermutationInput {
  const rec = a.record;
  const con = a.contrast(opts.contrast);
  const mask = a.image('mask.nii');
  let V = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] > 0) V++;
  const voxels = new Int32Array(V);
  for (let i = 0, k = 0; i < mask.data.length; i++) if (mask.data[i] > 0) voxels[k++] = i;
  // check the design before the long read (the test uses this plan: the SVD runs once)
  const plan = planScheme(
    rec.design.matrix,
    con.weights,
    con.type,
    { index: con.index, name: con.name },
    withVarianceGroups(opts, rec.nonSphericity?.groups),
  );
  const scans = scanReader(a, voxels, opts.onReadProgress);
  return {
    X: rec.design.matrix,
    weights: con.weights,
    type: con.type,
    contrast: { index: con.index, name: con.name },
    Y: (R, stride) => scans((i, values) => R.set(values, i * stride)),
    scans,
    voxels,
    dims: rec.grid.dims,
    affine: rec.grid.affine,
    identity: { id: rec.analysisId, scans: rec.scans.map((s) => s.hash) },
    varianceGroups: rec.nonSphericity?.groups,
    plan,
  };
}

/** A reader of the analysis's scans, one at a time, over the mask's voxels (into the data matrix, or a scratch file when larger than memory). */
function scanReader(
  a: Analysis,
  voxels: Int32Array,
  onProgress?: (d: number, t: number) => void,
): (visit: (i: number, values: Float32Array) => void) => void {
  return (visit) => {
    const rec = a.record;
    const n = rec.scans.length;
    const V = voxels.length;
    const row = new Float32Array(V);
    // every single-file scan read into one buffer, reused (each new buffer's pages are new memory,
    // faulted in on their first touch); a scan's voxels are copied out before the next is read
    let buffer = new Uint8Array(0);
    const into = (_h: unknown, bytes: number): Uint8Array => {
      if (buffer.length < bytes) buffer = new Uint8Array(bytes);
      return buffer.subarray(0, bytes);
    };
    let open: { path: string; file: NiftiFile } | undefined;
    for (let i = 0; i < n; i++) {
      const s = rec.scans[i];
      if (!existsSync(s.path))
        throw new VbmError(
          `scan ${i + 1} (${s.path}) of the analysis is missing`,
          'restore the file, or re-run `vbm run` with the current scans',
        );
      // hashed as the record was (piecewise XXH3; XXH3-64 or SHA-256 in records of an earlier vbm)
      if (!open || open.path !== s.path)
        open = { path: s.path, file: openNifti(s.path, { hash: hashLike(s.hash), into }) };
      const h = open.file.header;
      if (h.dims.some((d, k) => d !== rec.grid.dims[k]) || affineDistance(h.affine, rec.grid.affine) > 1e-4) {
        throw new VbmError(`scan ${s.path} is no longer on the analysis grid`, 're-run `vbm run`');
      }
      if (s.hash && open.file.hash && open.file.hash !== s.hash) {
        throw new VbmError(
          `scan ${s.path} changed since the analysis was estimated (its content hash differs from model.json)`,
          're-run `vbm run` so that the model and the permutations use the same data',
        );
      }
      const vol = decodeVolume(open.file, s.volume);
      const gSF = rec.design.globals?.gSF[i] ?? 1; // SPM's global scaling, as in the fit
      for (let v = 0; v < V; v++) row[v] = vol[voxels[v]] * gSF;
      visit(i, row);
      onProgress?.(i + 1, n);
    }
  };
}
