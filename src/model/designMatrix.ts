import { VbmError, invariant, item } from '../errors.js';
import type { Table } from '../io/table.js';
import { type Matrix, entry, nullSpace, pinv, rank, matmul, transpose } from './linalg.js';
import { columnKind, factorColumn, numericColumn, requireColumn } from './factors.js';
import { type GlobalScaling, type GlobalsOptions, globalScaling, globalsSource } from './globals.js';

/** How a covariate is centred: on its overall mean, within the levels of a factor, or not at all. */
export type Centring = 'mean' | 'factor' | 'none';

export type ModelKind = 'multiple_regression' | 'one_sample' | 'two_sample' | 'paired' | 'anova';
/** The designs vbm builds, as analysis files and `--model` name them. */
export const MODEL_KINDS: ModelKind[] = ['multiple_regression', 'one_sample', 'two_sample', 'paired', 'anova'];

/** SPM's partition of the design's columns: condition effects, covariates, blocks, nuisance (xX.iH, iC, iB, iG). */
export type ColumnRole = 'H' | 'C' | 'B' | 'G';

/** How to build the design matrix from the spreadsheet: model type, covariates, centring, factors, interactions and global scaling (`vbm run` flags, analysis-file keys). */
export interface DesignOptions {
  /** multiple_regression (default) | one_sample | two_sample | paired | anova (SPM's full factorial, one factor). */
  model?: ModelKind;
  /** two_sample, anova: the column of group labels. */
  factor?: string;
  /** Order of the levels of `factor` (paired: of `condition`); default: order of first appearance. */
  levels?: string[];
  /** paired: the column naming the subject of each scan ... */
  subject?: string;
  /** ... and the column naming its condition (two levels). */
  condition?: string;
  /** two_sample, anova: one variance per level ('unequal', SPM's default) or one for all ('equal'). */
  variance?: 'equal' | 'unequal';
  /** Covariate columns, in this order (multiple regression default: every column not otherwise used; other models: none). */
  covariates?: string[];
  /** Columns to treat as factors even if they hold numbers (e.g. site codes 1/2/3). */
  factors?: string[];
  /** Covariate-by-factor interactions: covariate -> factor; one column per level of the factor. */
  interactions?: Record<string, string>;
  /** Centring per covariate; default 'mean' (SPM's "overall mean"). */
  centring?: Record<string, Centring>;
  /** Default centring for covariates not named in `centring`. */
  defaultCentring?: Centring;
  /** multiple_regression: include the constant column `mean` (default true). */
  intercept?: boolean;
  globals?: GlobalsOptions;
  /** calculation 'mean': each spreadsheet row's global from SPM's spm_global (see estimation/globals.ts). */
  globalValues?: number[];
  /**
   * How a scan path as written in the first column becomes the path to open (Design.scans). The
   * shells pass pipeline/tableDesign.ts's resolver (relative to the spreadsheet's folder); default:
   * as written. The model itself touches no file system.
   */
  resolveScan?: (label: string) => string;
}

export interface Covariate {
  name: string;
  centring: Centring;
  /** Values as given in the spreadsheet, in design-row order. */
  raw: number[];
  /** The value subtracted (the mean for 'mean', 0 for 'none', NaN for 'factor': see the columns' offsets). */
  offset: number;
}

export interface FactorInfo {
  /** The spreadsheet column. */
  name: string;
  levels: string[];
  /** Scans per level. */
  counts: number[];
  /** What the factor does in the design. */
  use: 'factor' | 'condition' | 'subject' | 'covariate' | 'interaction';
}

/** How a design column was made (for vbm show, model.json and the report). */
export interface ColumnInfo {
  name: string;
  /** The name SPM12 gives the same column (null when SPM's factorial design has no such column). */
  spmName: string | null;
  role: ColumnRole;
  kind: 'intercept' | 'level' | 'subject' | 'covariate' | 'coded' | 'interaction' | 'global';
  /** Spreadsheet column(s) it comes from. */
  source?: string;
  factor?: string;
  level?: string;
  centring?: Centring;
  /** Value(s) subtracted: one number, or per level of the centring factor. */
  offset?: number | Record<string, number>;
}

/** A built design matrix: SPM's X with its scans, named columns, covariates, factor levels and globals. */
export interface Design {
  /** Absolute scan paths, one per design row (SPM's scan order). */
  scans: string[];
  /** Scan paths as written in the spreadsheet. */
  scanLabels: string[];
  /** Spreadsheet row number (header = 1) of each design row. */
  rows: number[];
  /** Column names (vbm's): SPM's order [H C B G]. */
  columns: string[];
  /** n x p design matrix, rows in SPM's scan order. */
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
  model: ModelKind;
  /** SPM's partition of each column. */
  roles: ColumnRole[];
  columnInfo: ColumnInfo[];
  factors: FactorInfo[];
  /** Per design row, the 0-based variance group (unequal variance); undefined: one variance component. */
  varianceGroups?: Int32Array;
  /** 'equal' | 'unequal' for two_sample/anova, as chosen (recorded). */
  variance?: 'equal' | 'unequal';
  /** Per design row, SPM's scaling factor gSF (undefined: 1). */
  globalScale?: Float64Array;
  globals?: GlobalScaling;
}

interface Block {
  info: ColumnInfo;
  values: number[];
}

const bracket = (factor: string, level: string): string => `${factor}[${level}]`;

function meanOf(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

/** Per-row offsets: each value's group mean (SPM's spm_meanby). */
function meanBy(
  v: number[],
  groups: string[],
  levels: string[],
): { offsets: number[]; byLevel: Record<string, number> } {
  const byLevel: Record<string, number> = {};
  for (const l of levels) {
    let s = 0;
    let k = 0;
    v.forEach((x, i) => {
      if (groups[i] === l) {
        s += x;
        k++;
      }
    });
    byLevel[l] = s / k;
  }
  return {
    offsets: groups.map((g) => {
      const o = byLevel[g];
      invariant(o !== undefined, `every group label is one of the levels ('${g}')`);
      return o;
    }),
    byLevel,
  };
}

/**
 * Build SPM12's design (spm_run_factorial_design) from a table whose first column holds scan
 * paths: multiple regression, one-sample, two-sample and paired t-tests and the one-factor full
 * factorial, with covariates, covariate-by-factor interactions, centring and global scaling.
 * Rows come in SPM's scan order (level by level; pair by pair), columns in SPM's order [H C B G].
 */
export function designMatrix(table: Table, opts: DesignOptions = {}): Design {
  const where = table.path;
  if (table.header.length < 1) throw new VbmError(`${where}: no columns`);
  const model = opts.model ?? 'multiple_regression';
  if (!MODEL_KINDS.includes(model)) throw new VbmError(`model '${model}' is not one of ${MODEL_KINDS.join(', ')}`);
  const scanName = table.header[0];
  const ntab = table.rows.length;
  const scanPaths = tableScanLabels(table).map(opts.resolveScan ?? ((label: string) => label));
  const usesFactor = model === 'two_sample' || model === 'anova';
  const need = (key: 'factor' | 'subject' | 'condition'): string => {
    const v = opts[key];
    if (!v)
      throw new VbmError(
        `model '${model}' needs '${key}': the column ${key === 'factor' ? 'of group labels' : key === 'subject' ? 'naming the subject of each scan' : 'naming the condition (two levels) of each scan'}`,
      );
    requireColumn(table, v, key);
    return v;
  };
  for (const key of ['factor', 'subject', 'condition'] as const) {
    const needed = key === 'factor' ? usesFactor : model === 'paired';
    if (opts[key] && !needed)
      throw new VbmError(
        `'${key}' is given, but model '${model}' does not use it`,
        usesFactor
          ? "two_sample and anova use 'factor'"
          : model === 'paired'
            ? "paired uses 'subject' and 'condition'"
            : 'choose model: two_sample, anova (factor) or paired (subject, condition)',
      );
  }
  if (opts.levels && !usesFactor && model !== 'paired')
    throw new VbmError(
      `'levels' is given, but model '${model}' has no factor`,
      'levels orders the levels of the factor (two_sample, anova) or of the condition (paired)',
    );
  if (opts.variance && !usesFactor)
    throw new VbmError(
      `variance: ${opts.variance} applies to two_sample and anova designs, not '${model}'`,
      model === 'paired' ? 'a paired design has one variance component, as in SPM' : 'leave it out',
    );
  if (opts.intercept === false && model !== 'multiple_regression')
    throw new VbmError(`intercept: false applies to multiple_regression only (model '${model}')`);

  const factorsDeclared = new Set(opts.factors ?? []);
  for (const f of factorsDeclared) requireColumn(table, f, 'factor');
  const factorInfos: FactorInfo[] = [];
  const addFactorInfo = (name: string, labels: string[], levels: string[], use: FactorInfo['use']): void => {
    if (factorInfos.some((f) => f.name === name)) return;
    factorInfos.push({ name, levels, counts: levels.map((l) => labels.filter((x) => x === l).length), use });
  };

  // 1. SPM's scan order and the H and B partitions
  let order: number[] = table.rows.map((_, i) => i);
  const H: Block[] = [];
  const B: Block[] = [];
  let designFactor: { name: string; labels: string[]; levels: string[]; spmIndex: number } | undefined;
  let subjectFactor: { name: string; labels: string[]; levels: string[] } | undefined;
  let varianceGroups: Int32Array | undefined;
  const intercept = model === 'one_sample' || (model === 'multiple_regression' && (opts.intercept ?? true));
  if (usesFactor) {
    const name = need('factor');
    const { labels, levels } = factorColumn(table, name, opts.levels);
    checkLevels(name, labels, levels, model === 'two_sample' ? 2 : undefined);
    order = levels.flatMap((l) => order.filter((i) => labels[i] === l));
    designFactor = { name, labels, levels, spmIndex: 2 };
    addFactorInfo(name, labels, levels, 'factor');
    levels.forEach((l, k) => {
      H.push({
        info: {
          name: bracket(name, l),
          spmName: `${model === 'two_sample' ? 'Group' : name}_{${k + 1}}`,
          role: 'H',
          kind: 'level',
          source: name,
          factor: name,
          level: l,
        },
        values: order.map((i) => (labels[i] === l ? 1 : 0)),
      });
    });
    if ((opts.variance ?? 'unequal') === 'unequal')
      varianceGroups = Int32Array.from(order, (i) => levels.indexOf(item(labels, i, 'labels')));
  } else if (model === 'paired') {
    const sName = need('subject');
    const cName = need('condition');
    if (sName === cName) throw new VbmError(`paired: subject and condition are the same column '${sName}'`);
    const subj = factorColumn(table, sName, undefined, 'subject');
    const cond = factorColumn(table, cName, opts.levels, 'condition');
    if (cond.levels.length !== 2) {
      throw new VbmError(
        `paired: the condition column '${cName}' has ${cond.levels.length} level(s) (${cond.levels.join(', ')}); a paired design needs exactly two`,
        cond.levels.length > 2
          ? `list the two to compare under levels, and drop the other scans from the spreadsheet`
          : 'each subject needs a scan in each of two conditions',
      );
    }
    order = [];
    for (const s of subj.levels) {
      for (const c of cond.levels) {
        const hits = table.rows.map((_, i) => i).filter((i) => subj.labels[i] === s && cond.labels[i] === c);
        if (hits.length === 0) {
          throw new VbmError(
            `paired: subject '${s}' (column '${sName}') has no scan for condition '${c}' (column '${cName}')`,
            `each subject needs one scan per condition: add the missing scan or drop subject '${s}' from the spreadsheet`,
          );
        }
        if (hits.length > 1) {
          throw new VbmError(
            `paired: subject '${s}' has ${hits.length} scans for condition '${c}' (rows ${hits.map((i) => table.rowNumbers[i]).join(', ')})`,
            'each subject needs exactly one scan per condition: correct the subject or condition cell, or drop the extra row',
          );
        }
        order.push(item(hits, 0, 'hits'));
      }
    }
    if (order.length !== ntab) throw new Error('paired: scans left over');
    if (subj.levels.length < 2)
      throw new VbmError(
        `paired: only one subject ('${subj.levels[0]}') in column '${sName}'`,
        'a paired t-test needs at least two subjects',
      );
    designFactor = { name: cName, labels: cond.labels, levels: cond.levels, spmIndex: 3 };
    subjectFactor = { name: sName, labels: subj.labels, levels: subj.levels };
    addFactorInfo(cName, cond.labels, cond.levels, 'condition');
    addFactorInfo(sName, subj.labels, subj.levels, 'subject');
    cond.levels.forEach((l, k) => {
      H.push({
        info: {
          name: bracket(cName, l),
          spmName: `Condition_{${k + 1}}`,
          role: 'H',
          kind: 'level',
          source: cName,
          factor: cName,
          level: l,
        },
        values: order.map((i) => (cond.labels[i] === l ? 1 : 0)),
      });
    });
    subj.levels.forEach((l, k) => {
      B.push({
        info: {
          name: bracket(sName, l),
          spmName: `Subject_{${k + 1}}`,
          role: 'B',
          kind: 'subject',
          source: sName,
          factor: sName,
          level: l,
        },
        values: order.map((i) => (subj.labels[i] === l ? 1 : 0)),
      });
    });
  } else if (intercept) {
    H.push({ info: { name: 'mean', spmName: 'mean', role: 'H', kind: 'intercept' }, values: order.map(() => 1) });
  }
  const n = order.length;
  const rowOf = (d: number): number => item(order, d, 'design rows');
  const rowLabel = (d: number): string =>
    `row ${table.rowNumbers[rowOf(d)]} (${String(item(table.rows, rowOf(d), 'table rows')[0])})`;
  const inDesignOrder = <T>(v: T[]): T[] => order.map((i) => item(v, i, 'column'));

  // 2. covariates, interactions and centring (the C partition)
  const interactions = opts.interactions ?? {};
  const used = new Set(
    [scanName, opts.factor, opts.subject, opts.condition, opts.globals?.values].filter((x): x is string => !!x),
  );
  let covNames =
    opts.covariates ?? (model === 'multiple_regression' ? table.header.slice(1).filter((c) => !used.has(c)) : []);
  for (const c of covNames) requireColumn(table, c, 'covariate');
  for (const [cov, fac] of Object.entries(interactions)) {
    requireColumn(table, cov, 'covariate');
    requireColumn(table, fac, 'interaction factor');
    if (!covNames.includes(cov)) covNames = [...covNames, cov];
  }
  if (new Set(covNames).size !== covNames.length)
    throw new VbmError(`covariates: a column is listed twice (${covNames.join(', ')})`);
  for (const c of covNames) {
    if (c === opts.factor || c === opts.subject || c === opts.condition)
      throw new VbmError(
        `'${c}' is the design's ${c === opts.factor ? 'factor' : c === opts.subject ? 'subject' : 'condition'} column; it cannot also be a covariate`,
      );
  }
  for (const name of Object.keys(opts.centring ?? {})) {
    if (!covNames.includes(name))
      throw new VbmError(
        `centring given for '${name}', which is not a covariate`,
        `the covariates are: ${covNames.join(', ') || '(none)'}`,
      );
  }
  const isFactorColumn = (name: string): boolean => {
    if (factorsDeclared.has(name) || name === opts.factor || name === opts.subject || name === opts.condition)
      return true;
    return columnKind(table, name) === 'text';
  };
  const C: Block[] = [];
  const covariates: Covariate[] = [];
  for (const name of covNames) {
    const centring: Centring = opts.centring?.[name] ?? opts.defaultCentring ?? 'mean';
    const withFactor = interactions[name];
    // the factor that 'factor' centring refers to: the interaction's, else the design's
    let centreBy: { name: string; labels: string[]; levels: string[] } | undefined;
    let interaction: { name: string; labels: string[]; levels: string[]; spmIndex?: number } | undefined;
    if (withFactor !== undefined) {
      if (!isFactorColumn(withFactor)) {
        throw new VbmError(
          `interaction ${name}:${withFactor}: '${withFactor}' is not a factor (it holds numbers)`,
          `an interaction gives one column of '${name}' per level of a factor: name a column of levels (text), or list '${withFactor}' under factors:`,
        );
      }
      if (withFactor === name)
        throw new VbmError(`interaction ${name}:${withFactor}: a covariate cannot interact with itself`);
      if (designFactor && withFactor === designFactor.name) interaction = designFactor;
      else if (subjectFactor && withFactor === subjectFactor.name) interaction = { ...subjectFactor, spmIndex: 2 };
      else {
        const f = factorColumn(table, withFactor);
        checkLevels(withFactor, f.labels, f.levels);
        interaction = { name: withFactor, ...f };
      }
      addFactorInfo(withFactor, interaction.labels, interaction.levels, 'interaction');
    }
    if (centring === 'factor') {
      centreBy = interaction ?? designFactor;
      if (!centreBy) {
        throw new VbmError(
          `centring '${name}: factor' centres within the levels of a factor, but model '${model}' has none and '${name}' has no interaction`,
          `use mean or none, or give interactions: {${name}: FACTOR}`,
        );
      }
    }
    if (isFactorColumn(name)) {
      // a factor used as a covariate: 0/1 columns against its first level
      if (interaction)
        throw new VbmError(
          `interaction ${name}:${withFactor}: '${name}' is a factor (text); an interaction needs a numeric covariate`,
        );
      const f = factorColumn(table, name);
      checkLevels(name, f.labels, f.levels);
      addFactorInfo(name, f.labels, f.levels, 'covariate');
      const labels = inDesignOrder(f.labels);
      for (const level of f.levels.slice(1)) {
        const ind = labels.map((l) => (l === level ? 1 : 0));
        const { values, offset } = centre(ind, centring, centreBy && inDesignOrder(centreBy.labels), centreBy?.levels);
        C.push({
          info: {
            name: bracket(name, level),
            spmName: null,
            role: 'C',
            kind: 'coded',
            source: name,
            factor: name,
            level,
            centring,
            offset,
          },
          values,
        });
      }
      continue;
    }
    const raw = inDesignOrder(numericColumn(table, name));
    const { values, offset } = centre(raw, centring, centreBy && inDesignOrder(centreBy.labels), centreBy?.levels);
    covariates.push({ name, centring, raw, offset: typeof offset === 'number' ? offset : NaN });
    if (!interaction) {
      C.push({ info: { name, spmName: name, role: 'C', kind: 'covariate', source: name, centring, offset }, values });
      continue;
    }
    const labels = inDesignOrder(interaction.labels);
    interaction.levels.forEach((level, k) => {
      C.push({
        info: {
          name: `${name}:${bracket(interaction.name, level)}`,
          spmName: interaction.spmIndex ? `${name}@sF${interaction.spmIndex}_{${k + 1}}` : null,
          role: 'C',
          kind: 'interaction',
          source: name,
          factor: interaction.name,
          level,
          centring,
          offset,
        },
        values: values.map((v, d) => (labels[d] === level ? v : 0)),
      });
    });
  }

  // 3. globals: scaling factors, and the ANCOVA column (the G partition)
  const G: Block[] = [];
  const source = globalsSource(opts.globals);
  let rawGlobals: number[] = [];
  if (source === 'user') {
    const col = opts.globals!.values!;
    requireColumn(table, col, 'globals values');
    rawGlobals = inDesignOrder(numericColumn(table, col, 'global value'));
  } else if (source === 'mean') {
    if (!opts.globalValues)
      throw new VbmError(
        "globals: calculation 'mean' needs the scans' global means (computed by runAnalysis / computeScanGlobals before the design)",
      );
    if (opts.globalValues.length !== ntab)
      throw new Error(`globalValues: ${opts.globalValues.length} values for ${ntab} rows`);
    rawGlobals = inDesignOrder(opts.globalValues);
  }
  const globals = globalScaling(opts.globals, rawGlobals, n, rowLabel);
  if (globals?.normalisation === 'ancova') {
    G.push({
      info: {
        name: 'global',
        spmName: 'global',
        role: 'G',
        kind: 'global',
        source: globals.values ?? 'spm_global',
        centring: 'mean',
        offset: globals.centre as number,
      },
      values: globals.scaled.map((g) => g - (globals.centre as number)),
    });
  }

  // 4. X = [H C B G]
  const blocks = [...H, ...C, ...B, ...G];
  const columns = blocks.map((b) => b.info.name);
  const p = columns.length;
  if (p === 0) throw new VbmError('the design has no columns', 'keep the intercept or give at least one covariate');
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) {
    throw new VbmError(
      dup === 'mean'
        ? `${where}: a covariate is named 'mean', the name of the intercept column`
        : `two design columns are named '${dup}'`,
      dup === 'mean' ? "rename that column (e.g. 'mean_value')" : 'rename the spreadsheet column',
    );
  }
  const X: Matrix = order.map((_, d) => blocks.map((b) => item(b.values, d, 'column values')));
  if (n < p) {
    throw new VbmError(
      `${where}: ${n} scans but the design has ${p} columns (${columns.join(', ')})`,
      'a regression needs more scans than design columns; add scans or drop covariates',
    );
  }
  const r = rank(X);
  const df = n - r;
  if (df < 1)
    throw new VbmError(
      `${where}: the design leaves no residual degrees of freedom (n = ${n}, rank = ${r})`,
      'add scans or drop covariates',
    );
  const scanLabels = order.map((i) => String(item(table.rows, i, 'table rows')[0]));
  const gSF = globals && globals.gSF.some((v) => v !== 1) ? Float64Array.from(globals.gSF) : undefined;
  return {
    scans: order.map((i) => item(scanPaths, i, 'scan paths')),
    scanLabels,
    rows: order.map((i) => item(table.rowNumbers, i, 'row numbers')),
    columns,
    X,
    covariates,
    intercept,
    n,
    p,
    rank: r,
    df,
    collinear: collinearGroups(X, columns),
    model,
    roles: blocks.map((b) => b.info.role),
    columnInfo: blocks.map((b) => b.info),
    factors: factorInfos,
    varianceGroups,
    variance: usesFactor ? (opts.variance ?? 'unequal') : undefined,
    globalScale: gSF,
    globals,
  };
}

/** The scan paths of a table's rows as written, in spreadsheet order (each one checked to be there). */
export function tableScanLabels(table: Table): string[] {
  return table.rows.map((row, i) => {
    const cell = row[0];
    if (cell === null || cell === '') {
      throw new VbmError(
        `${table.path}: row ${table.rowNumbers[i]}, column '${table.header[0]}': the scan path is empty`,
        'the first column must hold the path of each scan',
      );
    }
    return String(cell);
  });
}

/** Every factor needs two levels and every level two scans (so its effect and its variance can be estimated). */
function checkLevels(name: string, labels: string[], levels: string[], exactly?: number): void {
  if (levels.length < 2) {
    throw new VbmError(
      `factor '${name}' has only one level ('${levels[0]}')`,
      `a factor compares levels: the column needs at least two different values${exactly ? '' : ', or leave it out'}`,
    );
  }
  if (exactly && levels.length !== exactly) {
    throw new VbmError(
      `factor '${name}' has ${levels.length} levels (${levels.join(', ')}); a two-sample t-test compares two`,
      'use model: anova for more than two groups, or list the two to compare under levels and drop the other scans',
    );
  }
  for (const l of levels) {
    const k = labels.filter((x) => x === l).length;
    if (k < 2)
      throw new VbmError(
        `level '${l}' of factor '${name}' has a single scan`,
        `each level needs at least two scans: add scans of '${l}', or drop that scan from the spreadsheet`,
      );
  }
}

function centre(
  v: number[],
  how: Centring,
  groups?: string[],
  levels?: string[],
): { values: number[]; offset: number | Record<string, number> } {
  if (how === 'none') return { values: v.slice(), offset: 0 };
  if (how === 'mean') {
    const m = meanOf(v);
    return { values: v.map((x) => x - m), offset: m };
  }
  const { offsets, byLevel } = meanBy(v, groups as string[], levels as string[]);
  return { values: v.map((x, i) => x - item(offsets, i, 'offsets')), offset: byLevel };
}

/** Column groups that take part in a linear dependence (from the null space of X). */
export function collinearGroups(X: Matrix, columns: string[]): string[][] {
  const N = nullSpace(X);
  if (!N.length) return [];
  const groups: string[][] = [];
  const k = N[0]?.length ?? 0;
  for (let j = 0; j < k; j++) {
    let maxAbs = 0;
    for (let i = 0; i < N.length; i++) maxAbs = Math.max(maxAbs, Math.abs(entry(N, i, j)));
    groups.push(columns.filter((_, i) => Math.abs(entry(N, i, j)) > 1e-8 * maxAbs));
  }
  return groups;
}

/** pinv(X'X), the (unscaled) covariance of the estimates (SPM's xX.Bcov for OLS). */
export function betaCovariance(X: Matrix): Matrix {
  return pinv(matmul(transpose(X), X));
}
