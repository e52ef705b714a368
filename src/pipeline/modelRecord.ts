import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { VbmError } from '../errors.js';
import type { Centring } from '../model/designMatrix.js';
import type { ThresholdMasking } from '../estimation/masking.js';

export const MODEL_FILE = 'model.json';
export const MODEL_FORMAT = 'vbm-model';
export const MODEL_FORMAT_VERSION = 1;

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
  };
  scans: { label: string; path: string; volume: number; sha256: string; datatype: string }[];
  masking: { explicitMask: string | null; implicit: boolean; threshold: ThresholdMasking; voxels: number };
  grid: { dims: [number, number, number]; affine: number[][]; voxelSize: [number, number, number] };
  smoothness: { FWHM_vox: number[]; FWHM_mm: number[]; R: number[]; S: number; nResiduals: number; nValidVoxels: number };
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

export function analysisId(scanLabels: string[], columns: string[], X: number[][]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ scanLabels, columns, X }));
  return h.digest('hex').slice(0, 16);
}

export function readModelRecord(dir: string): ModelRecord {
  const path = join(dir, MODEL_FILE);
  if (!existsSync(path)) {
    throw new VbmError(`${dir} holds no vbm analysis (no ${MODEL_FILE})`, 'give the --out folder of a finished `vbm run`');
  }
  let rec: ModelRecord;
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as ModelRecord;
  } catch (e) {
    throw new VbmError(`${path} is not valid JSON (${(e as Error).message})`, 'the file was damaged; re-run `vbm run` with --overwrite');
  }
  if (rec.format !== MODEL_FORMAT) throw new VbmError(`${path} is not a vbm model record`);
  if (rec.formatVersion > MODEL_FORMAT_VERSION) {
    throw new VbmError(`${path} was written by a newer vbm (format ${rec.formatVersion}, vbm ${rec.vbmVersion})`, 'update vbm to read it');
  }
  return rec;
}
