/**
 * The fit over an iterator of scans (pure: no files, no threads): the scans arrive one by one,
 * decoded, from any source (a browser's File objects, fetch, a Node stream), are folded into the
 * sums in the same fixed chunks of FIT_CHUNK scans as the Node fit's worker pool uses, added in
 * the same order, and solved by the same code, so the maps are the same bytes. One scan is held
 * at a time beyond the sums of the current chunk.
 */
import { VbmError, item } from '../errors.js';
import type { Affine } from '../io/nifti/affine.js';
import { type NiftiFile, decodeNifti, decodeVolume } from '../io/nifti/decode.js';
import type { Volume } from '../io/nifti/volume.js';
import type { Design } from '../model/designMatrix.js';
import { type FitSums, mergeSums } from './accumulate.js';
import { type FittedModel, planFit } from './fitSolve.js';
import { fitFromSums } from './fitFromSums.js';
import { type ThresholdMasking, resampleMaskNearest } from './masking.js';
import { type DecodedScan, FIT_CHUNK, type ScanReport, ScanFolder, checkGrid } from './scanFold.js';
import type { ScanRef } from './scanList.js';

/** One scan for the streaming fit: its grid and its voxels, decoded to float32. */
export interface StreamScan extends DecodedScan {
  dims: [number, number, number];
  affine: Affine;
}

export interface StreamFitOptions {
  /** Explicit mask on any grid: voxels > 0 are analysed (nearest neighbour in mm). */
  explicitMask?: Volume;
  /** SPM's implicit mask (default on): for integer scans, 0 means "no data". */
  implicit?: boolean;
  /** SPM's threshold masking (default none). */
  threshold?: ThresholdMasking;
  /** Residual images used for smoothness (SPM's stats.maxres, 64). */
  maxResiduals?: number;
  /** Non-sphericity: upper-tail p of the effects-of-interest F selecting the pooled voxels (SPM: 0.001). */
  UFp?: number;
  /** Called after each scan is summed. */
  onProgress?: (done: number, total: number) => void;
}

/** A scan from the bytes of a .nii or .nii.gz (volume `index`, 0-based, of a 4-D file). */
export function scanFromNifti(bytes: Uint8Array | NiftiFile, name = 'scan.nii', index = 0): StreamScan {
  const file = bytes instanceof Uint8Array ? decodeNifti(bytes, name) : bytes;
  const h = file.header;
  return {
    dims: h.dims,
    affine: h.affine,
    data: decodeVolume(file, index),
    isFloat: h.datatype.isFloat,
    datatype: h.datatype.name,
  };
}

/**
 * Fit the design's model to its scans, given in design order (scan i is design row i) by an
 * iterator or async iterator: the same analysis mask, estimates, ResMS and smoothness as the
 * Node fit (`fitModel`) of the same scans, to the byte.
 */
export async function fitScanStream(
  design: Design,
  scans: Iterable<StreamScan> | AsyncIterable<StreamScan>,
  opts: StreamFitOptions = {},
): Promise<FittedModel> {
  const refs: ScanRef[] = design.scans.map((path, row) => ({ row, path, volume: 0 }));
  const threshold = opts.threshold ?? { type: 'none' };
  const implicit = opts.implicit ?? true;
  const reports: ScanReport[] = [];
  const onScan = (r: ScanReport): void => {
    reports.push(r);
    opts.onProgress?.(reports.length, design.n);
  };
  let plan: ReturnType<typeof planFit> | undefined;
  let reference: { dims: [number, number, number]; affine: Affine; path: string } | undefined;
  // per job (variance group): the sums so far, the open chunk and its count
  let state: { total?: FitSums; fold?: ScanFolder; count: number }[] = [];
  let jobOfRow: Int32Array = new Int32Array(0);
  let row = 0;
  for await (const scan of scans) {
    if (row >= design.n)
      throw new VbmError(
        `more scans were given than the design has rows (${design.n})`,
        'give one scan per design row',
      );
    const ref = item(refs, row, 'design rows');
    if (!plan || !reference) {
      reference = { dims: scan.dims, affine: scan.affine, path: ref.path };
      const nvox = scan.dims[0] * scan.dims[1] * scan.dims[2];
      const explicit = opts.explicitMask
        ? resampleMaskNearest(opts.explicitMask, scan.dims, scan.affine)
        : new Uint8Array(nvox).fill(1);
      plan = planFit(design, refs, reference, explicit, {
        threshold,
        implicit,
        maskName: 'given',
        maxResiduals: opts.maxResiduals,
      });
      state = plan.jobs.map(() => ({ count: 0 }));
      jobOfRow = new Int32Array(design.n);
      plan.jobs.forEach((j, g) => {
        for (const it of j.scans) jobOfRow[it.ref.row] = g;
      });
    }
    checkGrid(scan.dims, scan.affine, ref.path, reference);
    const g = item(jobOfRow, row, 'job of each row');
    const st = item(state, g, 'jobs');
    const job = item(plan.jobs, g, 'jobs');
    st.fold ??= new ScanFolder(job, onScan);
    st.fold.add(item(plan.items, row, 'fit items'), scan);
    st.count++;
    if (st.count === FIT_CHUNK) closeChunk(st);
    row++;
  }
  if (row !== design.n || !plan || !reference)
    throw new VbmError(`${row} scans were given but the design has ${design.n} rows`, 'give one scan per design row');
  for (const st of state) closeChunk(st);
  const sums = state.map((st) => st.total!);
  return fitFromSums({
    design,
    plan,
    sums: plan.groups ? sums : item(sums, 0, 'sums'),
    reports,
    refs,
    dims: reference.dims,
    affine: reference.affine,
    warnings: [],
    timings: {},
    UFp: opts.UFp,
  });
}

/** Sum the open chunk and add it to the job's total (chunks are added in their order). */
function closeChunk(st: { total?: FitSums; fold?: ScanFolder; count: number }): void {
  if (!st.fold) return;
  const s = st.fold.finish();
  if (st.total) mergeSums(st.total, s);
  else st.total = s;
  st.fold = undefined;
  st.count = 0;
}
