import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { VbmError } from '../errors.js';
import type { Centring, ColumnInfo, ColumnRole, FactorInfo, ModelKind } from '../model/designMatrix.js';
import type { GlobalScaling } from '../model/globals.js';
import type { ThresholdMasking } from '../estimation/masking.js';
import type { NonSphericity } from '../estimation/nonSphericity.js';

export const MODEL_FILE = 'model.json';
export const MODEL_FORMAT = 'vbm-model';
/**
 * 2: scans carry `hash` (node/contentHash.ts: piecewise XXH3, or whole-file XXH3-64 from an earlier vbm);
 * format 1 had `sha256` (read as `hash`).
 */
export const MODEL_FORMAT_VERSION = 2;

/** The machine-readable record of an analysis folder (model.json). */
export interface ModelRecord {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  vbmVersion: string;
  created: string;
  /** The command that estimated the model. */
  command?: string;
  /** The command that made each stage written into this record (estimate, contrasts), when known. */
  commands?: { estimate?: string; contrasts?: string };
  /** Hash of what makes this "the same analysis": scan paths and the design matrix. */
  analysisId: string;
  design: {
    source: string;
    columns: string[];
    matrix: number[][];
    intercept: boolean;
    covariates: { name: string; centring: Centring; offset: number; values: number[] }[];
    n: number;
    rank: number;
    df: number;
    trRV: number;
    collinear: string[][];
    /** The kind of design (absent in records of vbm before designs: multiple_regression). */
    model?: ModelKind;
    /** Spreadsheet row of each design row (SPM's scan order). */
    rows?: number[];
    /** SPM's partition of each column (H condition, C covariate, B block, G nuisance). */
    roles?: ColumnRole[];
    /** How each column was made, and SPM's name for it. */
    columnInfo?: ColumnInfo[];
    factors?: FactorInfo[];
    variance?: 'equal' | 'unequal';
    /** Variance group (0-based) of each design row, when variances are unequal. */
    varianceGroups?: number[];
    /** SPM's globals: raw values, gSF, GM, ANCOVA centre. */
    globals?: GlobalScaling;
  };
  /** hash: the file's content hash when estimated (piecewise XXH3; an earlier vbm's XXH3-64; SHA-256 in format 1). */
  scans: { label: string; row?: number; path: string; volume: number; hash: string; datatype: string }[];
  /** Variance components (ReML) and the whitening, when the design has several variance groups. */
  nonSphericity?: NonSphericity;
  masking: { explicitMask: string | null; implicit: boolean; threshold: ThresholdMasking; voxels: number };
  grid: { dims: [number, number, number]; affine: number[][]; voxelSize: [number, number, number] };
  smoothness: {
    FWHM_vox: number[];
    FWHM_mm: number[];
    R: number[];
    S: number;
    nResiduals: number;
    nValidVoxels: number;
  };
  images: { beta: string[]; ResMS: string; mask: string; RPV: string };
  contrasts: {
    index: number;
    name: string;
    type: 'T' | 'F';
    weights: number[][];
    df: [number, number];
    images: { effect: string; stat: string };
  }[];
}

export function analysisId(
  scanLabels: string[],
  columns: string[],
  X: number[][],
  varianceGroups?: ArrayLike<number>,
): string {
  const h = createHash('sha256');
  // variance groups make another analysis (the whitened fit); an i.i.d. design hashes as before
  const groups =
    varianceGroups && new Set(Array.from(varianceGroups)).size > 1 ? Array.from(varianceGroups) : undefined;
  h.update(JSON.stringify(groups ? { scanLabels, columns, X, varianceGroups: groups } : { scanLabels, columns, X }));
  return h.digest('hex').slice(0, 16);
}

export function readModelRecord(dir: string): ModelRecord {
  const path = join(dir, MODEL_FILE);
  if (!existsSync(path)) {
    throw new VbmError(
      `${dir} holds no vbm analysis (no ${MODEL_FILE})`,
      'give the --out folder of a finished `vbm run`',
    );
  }
  let rec: ModelRecord;
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as ModelRecord;
  } catch (e) {
    throw new VbmError(
      `${path} is not valid JSON (${(e as Error).message})`,
      'the file was damaged; re-run `vbm run` with --overwrite',
    );
  }
  if (rec.format !== MODEL_FORMAT) throw new VbmError(`${path} is not a vbm model record`);
  if (rec.formatVersion > MODEL_FORMAT_VERSION) {
    throw new VbmError(
      `${path} was written by a newer vbm (format ${rec.formatVersion}, vbm ${rec.vbmVersion})`,
      'update vbm to read it',
    );
  }
  // format 1 named each scan's content hash (SHA-256) `sha256`
  for (const s of rec.scans as (ModelRecord['scans'][number] & { sha256?: string })[]) {
    if (s.hash === undefined && s.sha256 !== undefined) s.hash = s.sha256;
    delete s.sha256;
  }
  return rec;
}
