import { type NiftiFile, decodeVolume, openNifti } from '../io/nifti/read.js';
import type { FitSums } from './accumulate.js';
import { type FitJob, type ScanReport, ScanFolder, checkGrid } from './scanFold.js';

// the pure folding (and these types) live in scanFold.ts; these names stay importable from here
export { type FitJob, type ScanReport, checkGrid } from './scanFold.js';

/**
 * Read the job's scans one after the other and fold each into the sums. A 4-D file named by
 * consecutive scans is opened once.
 */
/**
 * For tests of interruption only: VBM_TEST_SCAN_DELAY_MS=<ms> pauses after each scan read, so a
 * test can kill a run reliably in the middle of estimation. Unset in normal use.
 */
const testDelayMs = Number(process.env.VBM_TEST_SCAN_DELAY_MS ?? 0);
const sleeper = testDelayMs > 0 ? new Int32Array(new SharedArrayBuffer(4)) : null;

export function runFitJob(job: FitJob, onScan: (r: ScanReport) => void, batchSize = 8): FitSums {
  const fold = new ScanFolder(job, onScan, batchSize);
  let open: { path: string; file: NiftiFile } | undefined;
  for (const s of job.scans) {
    if (!open || open.path !== s.ref.path) open = { path: s.ref.path, file: openNifti(s.ref.path, { hash: true }) };
    const h = open.file.header;
    checkGrid(h.dims, h.affine, s.ref.path, job.reference);
    fold.add(s, {
      data: decodeVolume(open.file, s.ref.volume),
      isFloat: h.datatype.isFloat,
      datatype: h.datatype.name,
      sha256: open.file.sha256 ?? '',
    });
    if (sleeper) {
      Atomics.wait(sleeper, 0, 0, testDelayMs);
      fold.flush();
    }
  }
  return fold.finish();
}
