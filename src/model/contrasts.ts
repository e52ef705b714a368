import { VbmError, item } from '../errors.js';
import type { Design } from './designMatrix.js';
import { type Matrix, entry, matmul, pinv } from './linalg.js';

/** A contrast as a user writes it: the seed study's (name, 'T'|'F', columns, weights) tuple. */
export interface ContrastSpec {
  name: string;
  type: 'T' | 'F';
  /** Design columns the weights refer to; the other columns get weight 0. */
  columns?: string[];
  /** T: one weight per column. F: a matrix (one row per tested direction), or omitted to test the columns jointly. */
  weights?: number[] | number[][];
  /** Alternatively, the full weight vector/matrix over all design columns. */
  vector?: number[] | number[][];
}

/** A contrast resolved against a design: a weight matrix over all columns. */
export interface Contrast {
  index: number;
  name: string;
  type: 'T' | 'F';
  /** Rows of weights over the design columns (one row for T). */
  weights: Matrix;
}

function isMatrix(w: unknown): w is number[][] {
  return Array.isArray(w) && w.length > 0 && Array.isArray(w[0]);
}

export function validateContrastSpecs(data: unknown, where: string): ContrastSpec[] {
  const list = Array.isArray(data) ? data : (data as { contrasts?: unknown })?.contrasts;
  if (!Array.isArray(list))
    throw new VbmError(
      `${where}: expected a list of contrasts`,
      'e.g. [{"name": "age +", "type": "T", "columns": ["age"], "weights": [1]}]',
    );
  return list.map((raw, i) => {
    const at = `${where}: contrast ${i + 1}`;
    if (Array.isArray(raw)) {
      // the seed's tuple form: [name, type, columns, weights?]
      const [name, type, columns, weights] = raw as unknown[];
      return item(validateContrastSpecs([{ name, type, columns, weights }], where), 0, 'contrasts');
    }
    const o = raw as Record<string, unknown>;
    if (!o || typeof o !== 'object') throw new VbmError(`${at} is not an object`);
    const type = typeof o.type === 'string' ? o.type.toUpperCase() : '';
    if (type !== 'T' && type !== 'F')
      throw new VbmError(`${at}: type must be "T" or "F", got ${JSON.stringify(o.type)}`);
    if (o.name !== undefined && typeof o.name !== 'string' && typeof o.name !== 'number')
      throw new VbmError(`${at}: name must be text, got ${JSON.stringify(o.name)}`);
    const name = o.name === undefined ? `${type} contrast ${i + 1}` : String(o.name);
    const spec: ContrastSpec = { name, type };
    if (o.columns !== undefined) {
      if (!Array.isArray(o.columns) || !o.columns.every((c) => typeof c === 'string'))
        throw new VbmError(`${at} (${name}): columns must be a list of column names`);
      spec.columns = o.columns;
    }
    for (const key of ['weights', 'vector'] as const) {
      const w = o[key];
      if (w === undefined) continue;
      const ok =
        Array.isArray(w) &&
        (w.every((x) => typeof x === 'number') ||
          w.every((r) => Array.isArray(r) && r.every((x) => typeof x === 'number')));
      if (!ok) throw new VbmError(`${at} (${name}): ${key} must be a list of numbers or a list of rows of numbers`);
      spec[key] = w;
    }
    if (!spec.columns && !spec.vector)
      throw new VbmError(`${at} (${name}): give columns (with weights) or a full vector`);
    return spec;
  });
}

/**
 * Inline contrast syntax for the command line: `[NAME:]T|F:COL[=W][,COL[=W]...]`, e.g.
 * `T:age`, `age down:T:age=-1`, `F:age,sex`.
 */
export function parseInlineContrast(text: string): ContrastSpec {
  const parts = text.split(':');
  let name: string | undefined;
  let type: string;
  let body: string;
  // the type is the first part that is T or F; column names after it may hold ':' (interactions, tiv:group[AD])
  const k = parts.findIndex((x, i) => i < parts.length - 1 && /^\s*[TtFf]\s*$/.test(x));
  if (k >= 0) {
    name = k > 0 ? parts.slice(0, k).join(':') : undefined;
    type = item(parts, k, 'parts');
    body = parts.slice(k + 1).join(':');
  } else if (parts.length >= 2) {
    body = parts.pop() as string;
    type = parts.pop() as string;
    name = parts.length ? parts.join(':') : undefined;
  } else {
    throw new VbmError(
      `--contrast '${text}': expected [NAME:]T|F:COLUMN[=WEIGHT][,COLUMN[=WEIGHT]...]`,
      "e.g. --contrast 'age+:T:age=1' or --contrast 'F:age,sex'",
    );
  }
  type = type.trim().toUpperCase();
  if (type !== 'T' && type !== 'F') throw new VbmError(`--contrast '${text}': type must be T or F, got '${type}'`);
  const columns: string[] = [];
  const weights: number[] = [];
  let anyWeight = false;
  for (const item of body.split(',')) {
    const [col, w] = item.split('=').map((s) => s.trim());
    if (!col) throw new VbmError(`--contrast '${text}': empty column name`);
    columns.push(col);
    if (w !== undefined) {
      anyWeight = true;
      const num = Number(w);
      if (!Number.isFinite(num)) throw new VbmError(`--contrast '${text}': weight '${w}' for '${col}' is not a number`);
      weights.push(num);
    } else weights.push(1);
  }
  const label = name?.trim() || `${type}: ${body}`;
  if (type === 'T') return { name: label, type: 'T', columns, weights };
  return anyWeight
    ? {
        name: label,
        type: 'F',
        columns,
        weights: columns.map((_, i) => columns.map((__, j) => (i === j ? item(weights, i, 'weights') : 0))),
      }
    : { name: label, type: 'F', columns };
}

/** Resolve specs against the design; refuse unknown columns and non-estimable contrasts. */
export function buildContrasts(specs: ContrastSpec[], design: Design): Contrast[] {
  const cols = design.columns;
  const listCols = `the design's columns are: ${cols.join(', ')}`;
  return specs.map((spec, i) => {
    const at = `contrast ${i + 1} '${spec.name}'`;
    let W: Matrix;
    if (spec.vector) {
      const rows = isMatrix(spec.vector) ? spec.vector : [spec.vector];
      for (const r of rows) {
        if (r.length !== cols.length)
          throw new VbmError(
            `${at}: the vector has ${r.length} weights but the design has ${cols.length} columns`,
            listCols,
          );
      }
      W = rows.map((r) => r.slice());
    } else {
      const names = (spec.columns ?? []).map((c) => columnName(c, design, at, listCols));
      if (new Set(names).size !== names.length) throw new VbmError(`${at} names a column twice`);
      let rowsOverNames: number[][];
      if (spec.weights === undefined) {
        if (spec.type === 'T') {
          if (names.length !== 1)
            throw new VbmError(
              `${at}: a T contrast over several columns needs weights`,
              'give "weights": one number per column',
            );
          rowsOverNames = [[1]];
        } else rowsOverNames = names.map((_, r) => names.map((__, c) => (r === c ? 1 : 0)));
      } else rowsOverNames = isMatrix(spec.weights) ? spec.weights : [spec.weights];
      for (const r of rowsOverNames) {
        if (r.length !== names.length) {
          throw new VbmError(
            `${at}: ${r.length} weights for ${names.length} columns (${names.join(', ')})`,
            'give one weight per named column',
          );
        }
      }
      // each row holds one weight per named column (checked above)
      W = rowsOverNames.map((r) => cols.map((c) => (names.includes(c) ? item(r, names.indexOf(c), 'weights') : 0)));
    }
    if (spec.type === 'T' && W.length !== 1)
      throw new VbmError(
        `${at}: a T contrast has one row of weights, this one has ${W.length}`,
        'use type "F" to test several directions jointly',
      );
    if (W.every((r) => r.every((x) => x === 0))) throw new VbmError(`${at}: every weight is zero`);
    if (!isEstimable(W, design.X)) {
      throw new VbmError(
        `${at} is not estimable: its weights do not lie in the row space of the design (columns ${design.collinear.map((g) => g.join(' ~ ')).join('; ') || 'of this design'} are collinear)`,
        `test a combination the data can tell apart; ${listCols}`,
      );
    }
    return { index: i + 1, name: spec.name, type: spec.type, weights: W };
  });
}

/**
 * The design column a contrast names: vbm's name (`group[AD]`), or SPM's (`Group_{2}`,
 * `age@sF2_{1}`). A level that does not exist is refused with the factor's levels.
 */
function columnName(
  c: string,
  design: Pick<Design, 'columns'> & Partial<Pick<Design, 'columnInfo' | 'factors'>>,
  at: string,
  listCols: string,
): string {
  if (design.columns.includes(c)) return c;
  const bySpm = design.columnInfo?.filter((ci) => ci.spmName === c) ?? [];
  const [spm] = bySpm;
  if (spm && bySpm.length === 1) return spm.name;
  const m = /^(?:(.+):)?([^:[\]]+)\[(.*)\]$/.exec(c);
  // groups 2 and 3 always take part in a match
  const [factorName, level] = m ? [m[2] ?? '', m[3] ?? ''] : ['', ''];
  const factor = m && design.factors?.find((f) => f.name === factorName);
  if (m && factor && !factor.levels.includes(level)) {
    throw new VbmError(
      `${at} names '${c}', but '${level}' is not a level of '${factor.name}'`,
      `the levels of '${factor.name}' are: ${factor.levels.join(', ')}; ${listCols}`,
    );
  }
  throw new VbmError(`${at} names column '${c}', which is not in the design`, listCols);
}

/** pinv(X) X of each design matrix asked about (one SVD per design, not one per contrast). */
const rowSpaceProjectors = new WeakMap<Matrix, Matrix>();

/** c is estimable iff c = c * pinv(X) * X (it lies in the row space of X). */
export function isEstimable(C: Matrix, X: Matrix): boolean {
  let P = rowSpaceProjectors.get(X);
  if (!P) {
    P = matmul(pinv(X), X);
    rowSpaceProjectors.set(X, P);
  }
  const proj = matmul(C, P);
  for (let i = 0; i < C.length; i++) {
    let norm = 0;
    let diff = 0;
    const ci = item(C, i, 'contrast');
    for (let j = 0; j < ci.length; j++) {
      const cij = item(ci, j);
      norm += cij * cij;
      diff += (entry(proj, i, j) - cij) ** 2;
    }
    if (Math.sqrt(diff) > 1e-6 * Math.sqrt(norm)) return false;
  }
  return true;
}
