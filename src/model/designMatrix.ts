import { isAbsolute, dirname, resolve } from 'node:path';
import { VbmError } from '../errors.js';
import type { Table } from '../io/spreadsheet.js';
import { type Matrix, nullSpace, pinv, rank, matmul, transpose } from './linalg.js';

export type Centring = 'mean' | 'none';

export interface DesignOptions {
  /** Covariate columns to use, in this order (default: every column after the first). */
  covariates?: string[];
  /** Centring per covariate; default 'mean' (SPM's "overall mean"). */
  centring?: Record<string, Centring>;
  /** Default centring for covariates not named in `centring`. */
  defaultCentring?: Centring;
  /** Include the constant column `mean` (default true). */
  intercept?: boolean;
}

export interface Covariate {
  name: string;
  centring: Centring;
  /** Values as given in the spreadsheet. */
  raw: number[];
  /** The value subtracted (the mean for 'mean', 0 for 'none'). */
  offset: number;
}

export interface Design {
  /** Absolute scan paths, one per row. */
  scans: string[];
  /** Scan paths as written in the spreadsheet. */
  scanLabels: string[];
  /** Column names: `mean` first (when present), then covariates in spreadsheet order. */
  columns: string[];
  /** n x p design matrix. */
  X: Matrix;
  covariates: Covariate[];
  intercept: boolean;
  n: number;
  p: number;
  rank: number;
  /** Residual degrees of freedom, n - rank(X). */
  df: number;
  /** Groups of columns that are linearly dependent (empty for a full-rank design). */
  collinear: string[][];
  /**
   * SPM's column partition per column: H (condition/group), C (covariate), B (block), G (nuisance/
   * global). The effects of interest are the columns not in B or G. Absent: all are of interest.
   */
  roles?: ('H' | 'C' | 'B' | 'G')[];
  /**
   * Per design row, its 0-based variance group (SPM: independence, unequal variance). Undefined
   * or a single group: i.i.d. errors, ordinary least squares.
   */
  varianceGroups?: Int32Array;
  /** Per design row, SPM's global scaling factor gSF applied to the scan's values when read. */
  globalScale?: Float64Array;
}

/**
 * Build SPM's multiple-regression design from a table whose first column holds scan paths
 * and whose other columns hold numeric covariates.
 */
export function designMatrix(table: Table, opts: DesignOptions = {}): Design {
  const where = table.path;
  if (table.header.length < 1) throw new VbmError(`${where}: no columns`);
  const scanCol = 0;
  const available = table.header.slice(1);
  const chosen = opts.covariates ?? available;
  for (const c of chosen) {
    if (!table.header.includes(c) || c === table.header[scanCol]) {
      throw new VbmError(
        `${where}: covariate column '${c}' is not in the spreadsheet`,
        `the covariate columns are: ${available.join(', ') || '(none)'}`,
      );
    }
  }
  const intercept = opts.intercept ?? true;
  if (intercept && chosen.includes('mean')) {
    throw new VbmError(`${where}: a covariate is named 'mean', the name of the intercept column`, "rename that column (e.g. 'mean_value')");
  }
  for (const name of Object.keys(opts.centring ?? {})) {
    if (!chosen.includes(name)) {
      throw new VbmError(`centring given for '${name}', which is not a covariate`, `the covariates are: ${chosen.join(', ') || '(none)'}`);
    }
  }
  const n = table.rows.length;
  const baseDir = dirname(resolve(table.path));
  const scanLabels: string[] = [];
  const scans: string[] = [];
  table.rows.forEach((row, i) => {
    const cell = row[scanCol];
    if (cell === null || cell === '') {
      throw new VbmError(
        `${where}: row ${table.rowNumbers[i]}, column '${table.header[scanCol]}': the scan path is empty`,
        'the first column must hold the path of each scan',
      );
    }
    const label = String(cell);
    scanLabels.push(label);
    scans.push(isAbsolute(label) ? label : resolve(baseDir, label));
  });
  const covariates: Covariate[] = chosen.map((name) => {
    const col = table.header.indexOf(name);
    const raw = table.rows.map((row, i) => {
      const v = row[col];
      const at = `${where}: row ${table.rowNumbers[i]} (${scanLabels[i]}), column '${name}'`;
      if (v === null) throw new VbmError(`${at} is empty`, 'fill in every covariate value, or drop the scan from the spreadsheet');
      const num = typeof v === 'number' ? v : Number(String(v).replace(',', '.'));
      if (typeof v !== 'number' && !/^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/.test(String(v))) {
        throw new VbmError(`${at}: '${v}' is not a number`, 'covariates must be numeric; code categories as numbers (e.g. sex 0/1)');
      }
      if (!Number.isFinite(num)) throw new VbmError(`${at}: '${v}' is not a finite number`);
      return num;
    });
    const centring = opts.centring?.[name] ?? opts.defaultCentring ?? 'mean';
    const offset = centring === 'mean' ? raw.reduce((a, b) => a + b, 0) / n : 0;
    return { name, centring, raw, offset };
  });
  const columns = [...(intercept ? ['mean'] : []), ...covariates.map((c) => c.name)];
  const p = columns.length;
  if (p === 0) throw new VbmError('the design has no columns', 'keep the intercept or give at least one covariate');
  const X: Matrix = table.rows.map((_, i) => [...(intercept ? [1] : []), ...covariates.map((c) => c.raw[i] - c.offset)]);
  if (n < p) {
    throw new VbmError(
      `${where}: ${n} scans but the design has ${p} columns (${columns.join(', ')})`,
      'a regression needs more scans than design columns; add scans or drop covariates',
    );
  }
  const r = rank(X);
  const df = n - r;
  if (df < 1) {
    throw new VbmError(
      `${where}: the design leaves no residual degrees of freedom (n = ${n}, rank = ${r})`,
      'add scans or drop covariates',
    );
  }
  return { scans, scanLabels, columns, X, covariates, intercept, n, p, rank: r, df, collinear: collinearGroups(X, columns) };
}

/** Column groups that take part in a linear dependence (from the null space of X). */
export function collinearGroups(X: Matrix, columns: string[]): string[][] {
  const N = nullSpace(X);
  if (!N.length) return [];
  const groups: string[][] = [];
  const k = N[0].length;
  for (let j = 0; j < k; j++) {
    let maxAbs = 0;
    for (let i = 0; i < N.length; i++) maxAbs = Math.max(maxAbs, Math.abs(N[i][j]));
    groups.push(columns.filter((_, i) => Math.abs(N[i][j]) > 1e-8 * maxAbs));
  }
  return groups;
}

/** pinv(X'X), the (unscaled) covariance of the estimates (SPM's xX.Bcov for OLS). */
export function betaCovariance(X: Matrix): Matrix {
  return pinv(matmul(transpose(X), X));
}
