/**
 * The design keys of an analysis file (and of the command line, which builds the same object):
 * model, factor, levels, subject, condition, variance, factors, interactions, globals. Validated
 * with messages that name the key; the design itself is built by model/designMatrix.ts.
 */
import { VbmError } from '../errors.js';
import { type Origin, longFlag } from '../settings/setting.js';
import { DESIGN } from '../settings/vocabulary.js';
import { type DesignOptions, MODEL_KINDS, type ModelKind } from '../model/designMatrix.js';
import type { GlobalsOptions } from '../model/globals.js';

export const DESIGN_KEYS = [
  'model',
  'factor',
  'levels',
  'subject',
  'condition',
  'variance',
  'factors',
  'interactions',
  'globals',
];

/** The design options an analysis file can set (covariates, centring and intercept are read with the other top-level keys). */
export type DesignSpec = Pick<
  DesignOptions,
  'model' | 'factor' | 'levels' | 'subject' | 'condition' | 'variance' | 'factors' | 'interactions' | 'globals'
>;

type Obj = Record<string, unknown>;

const DESIGN_SETTINGS = Object.values(DESIGN);

function fail(where: string, what: string, hint?: string): never {
  throw new VbmError(`${where}: ${what}`, hint);
}

function names(v: unknown, where: string): string[] {
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number'))
    fail(where, `expected a list of names (got ${JSON.stringify(v)})`);
  return (v as unknown[]).map(String);
}

/** A value as the user wrote it, for messages: text as it is, anything else as JSON. */
function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function text(v: unknown, where: string): string {
  if (typeof v !== 'string' || !v) fail(where, `expected a column name (got ${JSON.stringify(v)})`);
  return v;
}

/** `two-sample`, `two_sample`, `TwoSample` ... -> two_sample; `mreg`/`regression` -> multiple_regression; `one-way anova` -> anova. */
export function parseModelKind(v: unknown, where: string): ModelKind {
  const s = String(v)
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  const alias: Record<string, ModelKind | undefined> = {
    mreg: 'multiple_regression',
    regression: 'multiple_regression',
    twosample: 'two_sample',
    onesample: 'one_sample',
    one_way_anova: 'anova',
    full_factorial: 'anova',
  };
  const k = alias[s] ?? s;
  if (!(MODEL_KINDS as string[]).includes(k))
    fail(where, `model '${String(v)}' is not one of ${MODEL_KINDS.join(', ')}`);
  return k as ModelKind;
}

/**
 * `label(key)`: how to name a key of the globals section in a message (`FILE: globals.values` by
 * default; the flag, e.g. `--normalisation`, when the section came from the command line).
 */
export function parseGlobals(
  v: unknown,
  where: string,
  label: (key: string) => string = (k) => `${where}.${k}`,
): GlobalsOptions {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(where, 'expected {calculation, values, grand_mean_scaling, normalisation}');
  const o = v as Obj;
  for (const k of Object.keys(o))
    if (!['calculation', 'values', 'grand_mean_scaling', 'normalisation'].includes(k))
      fail(where, `unknown key '${k}'`, 'allowed keys: calculation, values, grand_mean_scaling, normalisation');
  const g: GlobalsOptions = {};
  if (o.calculation !== undefined) {
    if (typeof o.calculation !== 'string' || !['omit', 'mean', 'user'].includes(o.calculation))
      fail(label('calculation'), `'${shown(o.calculation)}' is not one of omit, mean, user`);
    g.calculation = o.calculation as GlobalsOptions['calculation'];
  }
  if (o.values !== undefined) g.values = text(o.values, label('values'));
  if (o.grand_mean_scaling !== undefined) {
    const s = o.grand_mean_scaling;
    if (s === 'no' || s === false) g.grandMeanScaling = 'no';
    else if (typeof s === 'number' && Number.isFinite(s) && s > 0) g.grandMeanScaling = s;
    else fail(label('grand_mean_scaling'), `expected a positive value (e.g. 50) or no (got ${JSON.stringify(s)})`);
  }
  if (o.normalisation !== undefined) {
    const s = typeof o.normalisation === 'string' ? o.normalisation.toLowerCase() : '';
    const n = s === 'proportional' || s === 'ancova' || s === 'none' ? s : undefined;
    if (!n) fail(label('normalisation'), `'${shown(o.normalisation)}' is not one of none, proportional, ancova`);
    g.normalisation = n;
  }
  return g;
}

/**
 * The design keys of an analysis file, or the design flags of `vbm run` (origin 'cli'), checked.
 * Messages name a key as the user wrote it: `FILE: globals.normalisation`, or `--normalisation`.
 */
export function parseDesignKeys(raw: Obj, where: string, origin?: Origin): DesignSpec {
  const at = (key: string): string => {
    if (origin !== 'cli') return `${where}: ${key}`;
    const s =
      DESIGN_SETTINGS.find((d) => d.key === key) ??
      DESIGN_SETTINGS.find((d) => d.key?.split('.')[0] === key.split('.')[0]);
    return s ? longFlag(s) : `${where}: ${key}`;
  };
  const d: DesignSpec = {};
  if (raw.model !== undefined) d.model = parseModelKind(raw.model, at('model'));
  for (const k of ['factor', 'subject', 'condition'] as const) if (raw[k] !== undefined) d[k] = text(raw[k], at(k));
  if (raw.levels !== undefined) d.levels = names(raw.levels, at('levels'));
  if (raw.factors !== undefined) d.factors = names(raw.factors, at('factors'));
  if (raw.variance !== undefined) {
    if (raw.variance !== 'equal' && raw.variance !== 'unequal')
      fail(at('variance'), `must be equal or unequal (got ${JSON.stringify(raw.variance)})`);
    d.variance = raw.variance;
  }
  if (raw.interactions !== undefined) {
    const v = raw.interactions;
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      fail(at('interactions'), 'expected a map covariate: factor, e.g. {tiv: group}');
    d.interactions = {};
    for (const [cov, fac] of Object.entries(v as Obj))
      d.interactions[cov] = text(fac, origin === 'cli' ? at('interactions') : `${where}: interactions.${cov}`);
  }
  if (raw.globals !== undefined)
    d.globals = parseGlobals(raw.globals, at('globals'), origin === 'cli' ? (k) => at(`globals.${k}`) : undefined);
  return d;
}
