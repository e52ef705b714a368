/**
 * SPM12's global options (spm_run_factorial_design): which globals, grand mean scaling, and
 * global normalisation, turned into a scaling factor per scan (gSF: SPM reads scan i as
 * raw x gSF(i)) and, for ANCOVA, the `global` nuisance column.
 *   proportional: gSF = GM / global (GM = the grand mean value given, or 50 when grand mean
 *                 scaling is "no"); every scaled global is GM.
 *   grand mean scaling (without proportional): one factor gSF = GM / mean(globals).
 *   ANCOVA: column = scaled global - mean(scaled globals).
 */
import { VbmError, item } from '../errors.js';

export type GlobalCalculation = 'omit' | 'mean' | 'user';
export type GlobalNormalisation = 'none' | 'proportional' | 'ancova';

export interface GlobalsOptions {
  /** Default: 'omit' (and, as SPM, 'mean' when a normalisation needs globals and none was chosen). */
  calculation?: GlobalCalculation;
  /** calculation 'user': the spreadsheet column with each scan's global (e.g. TIV). */
  values?: string;
  /** Grand mean scaling: the value (SPM's default 50 for proportional), or 'no'. */
  grandMeanScaling?: number | 'no';
  normalisation?: GlobalNormalisation;
}

export interface GlobalScaling {
  calculation: GlobalCalculation;
  /** The column holding user globals. */
  values?: string;
  normalisation: GlobalNormalisation;
  grandMeanScaling: number | 'no';
  /** The grand mean GM (0: no scaling). */
  GM: number;
  /** Raw globals per design row (SPM's xGX.rg); empty when omitted. */
  raw: number[];
  /** Scaling factor per design row (SPM's xGX.gSF). */
  gSF: number[];
  /** Scaled globals (raw x gSF; GM for proportional). */
  scaled: number[];
  /** ANCOVA: the centre subtracted (SPM's xGX.gc), else null. */
  centre: number | null;
  /** SPM's option codes, for the record. */
  spm: { iGXcalc: number; iGMsca: number; iGloNorm: number };
}

/** Which globals a design needs before it can be built: none, a spreadsheet column, or SPM's spm_global over the scans. */
export function globalsSource(g: GlobalsOptions | undefined): GlobalCalculation {
  if (!g) return 'omit';
  const norm = g.normalisation ?? 'none';
  if (g.calculation === 'omit' && norm !== 'none') {
    throw new VbmError(
      `globals: normalisation '${norm}' needs a global value per scan, but calculation is 'omit'`,
      "set globals.calculation to 'mean' (SPM's global mean of each scan) or 'user' with values: COLUMN (e.g. TIV); SPM would silently use 'mean'",
    );
  }
  if (g.calculation === undefined && norm !== 'none') return 'mean';
  const calc = g.calculation ?? 'omit';
  if (calc === 'omit' && typeof g.grandMeanScaling === 'number' && g.grandMeanScaling !== 0) {
    throw new VbmError(
      'globals: grand mean scaling needs a global value per scan, but calculation is omitted',
      "set globals.calculation to 'mean' or 'user' (with values: COLUMN), or grand_mean_scaling: no",
    );
  }
  if (calc === 'user' && !g.values)
    throw new VbmError("globals: calculation 'user' needs values: the column holding each scan's global (e.g. tiv)");
  if (calc !== 'user' && g.values)
    throw new VbmError(
      `globals: values '${g.values}' is given but calculation is '${calc}'`,
      "set calculation: user to use the column's values as globals",
    );
  return calc;
}

/**
 * SPM's scaling for raw globals `raw` (design order; empty when omitted). `label(i)` names
 * design row i for messages.
 */
export function globalScaling(
  g: GlobalsOptions | undefined,
  raw: number[],
  n: number,
  label: (i: number) => string,
): GlobalScaling | undefined {
  const calculation = globalsSource(g);
  if (
    !g ||
    (calculation === 'omit' &&
      (g.normalisation ?? 'none') === 'none' &&
      !(typeof g.grandMeanScaling === 'number' && g.grandMeanScaling !== 0))
  )
    return undefined;
  let normalisation: GlobalNormalisation = g.normalisation ?? 'none';
  const gms = g.grandMeanScaling ?? 'no';
  if (calculation !== 'omit') {
    if (raw.length !== n) throw new Error(`globalScaling: ${raw.length} globals for ${n} scans`);
    raw.forEach((v, i) => {
      if (!Number.isFinite(v))
        throw new VbmError(
          `the global of ${label(i)} is not a finite number (${v})`,
          'check the scan (empty or all NaN?) or the globals column',
        );
    });
  }
  let iGMsca: number;
  let GM: number;
  if (normalisation === 'proportional') {
    iGMsca = 8;
    GM = typeof gms === 'number' ? gms : 50;
  } else {
    iGMsca = typeof gms === 'number' ? 1 : 9;
    GM = typeof gms === 'number' ? gms : 0;
  }
  if (GM === 0) {
    iGMsca = 9;
    if (normalisation === 'proportional') normalisation = 'none';
  }
  let gSF: number[];
  let scaled: number[];
  if (iGMsca === 8) {
    raw.forEach((v, i) => {
      if (!(v > 0)) {
        throw new VbmError(
          `proportional scaling divides each scan by its global, but the global of ${label(i)} is ${v}`,
          'globals must be positive: correct the value (a TIV in ml, say), or use normalisation: ancova or none',
        );
      }
    });
    gSF = raw.map((v) => GM / v);
    scaled = raw.map(() => GM);
  } else if (iGMsca === 1) {
    const mean = raw.reduce((s, v) => s + v, 0) / n;
    if (!(mean > 0))
      throw new VbmError(
        `grand mean scaling divides by the mean global, which is ${mean}`,
        'globals must be positive on average; check the globals column',
      );
    gSF = raw.map(() => GM / mean);
    const sf = gSF;
    scaled = raw.map((v, i) => v * item(sf, i));
  } else {
    gSF = new Array<number>(n).fill(1);
    scaled = raw.slice();
  }
  let centre: number | null = null;
  if (normalisation === 'ancova') centre = scaled.reduce((s, v) => s + v, 0) / n;
  return {
    calculation,
    values: calculation === 'user' ? g.values : undefined,
    normalisation,
    grandMeanScaling: gms,
    GM,
    raw: raw.slice(),
    gSF,
    scaled,
    centre,
    spm: {
      iGXcalc: { omit: 1, user: 2, mean: 3 }[calculation],
      iGMsca,
      iGloNorm: { ancova: 1, proportional: 8, none: 9 }[normalisation],
    },
  };
}
