import { VbmError } from '../errors.js';
import type { Centring } from '../model/designMatrix.js';
import type { ThresholdMasking } from '../estimation/masking.js';

export function parseList(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

/** `--centring mean`, `--centring none`, or per column `age=mean,tiv=factor,sex=none`. */
export function parseCentring(s: string | undefined): { default?: Centring; perColumn: Record<string, Centring> } {
  const out: { default?: Centring; perColumn: Record<string, Centring> } = { perColumn: {} };
  if (!s) return out;
  for (const item of s.split(',').map((x) => x.trim())) {
    const [a, b] = item.split('=').map((x) => x.trim());
    const check = (v: string): Centring => {
      if (v !== 'mean' && v !== 'none' && v !== 'factor') throw new VbmError(`--centring '${s}': '${v}' is not 'mean', 'factor' (within the factor's levels) or 'none'`);
      return v;
    };
    if (b === undefined) out.default = check(a);
    else out.perColumn[a] = check(b);
  }
  return out;
}

export function parseNumber(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new VbmError(`${flag} '${v}' is not a number`);
  return n;
}

export function thresholdMasking(abs?: string, rel?: string): ThresholdMasking {
  if (abs !== undefined && rel !== undefined) throw new VbmError('give --absolute-threshold or --relative-threshold, not both');
  if (abs !== undefined) return { type: 'absolute', value: parseNumber('--absolute-threshold', abs) };
  if (rel !== undefined) {
    const value = parseNumber('--relative-threshold', rel);
    if (!(value > 0)) throw new VbmError(`--relative-threshold ${rel} must be a positive fraction of the global mean (e.g. 0.8)`);
    return { type: 'relative', value };
  }
  return { type: 'none' };
}

/** The design flags of `vbm run` (commander's camel-case names). */
export const DESIGN_FLAGS = ['model', 'factor', 'levels', 'subject', 'condition', 'variance', 'factors', 'interaction', 'globals', 'grandMeanScaling', 'normalisation'];

/** The analysis-file keys the design flags stand for (validated by the analysis file's parser). */
export function designKeysFromFlags(o: Record<string, unknown>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const k of ['model', 'factor', 'subject', 'condition', 'variance'] as const) if (o[k] !== undefined) raw[k] = String(o[k]);
  if (o.levels !== undefined) raw.levels = parseList(String(o.levels));
  if (o.factors !== undefined) raw.factors = parseList(String(o.factors));
  if (o.interaction !== undefined) {
    const items = (o.interaction as string[]).flatMap((x) => parseList(x) ?? []);
    const map: Record<string, string> = {};
    for (const item of items) {
      const [cov, fac, more] = item.split(':').map((x) => x.trim());
      if (!cov || !fac || more !== undefined) throw new VbmError(`--interaction '${item}': expected COVARIATE:FACTOR, e.g. tiv:group`);
      map[cov] = fac;
    }
    raw.interactions = map;
  }
  const globals: Record<string, unknown> = {};
  if (o.globals !== undefined) {
    const [calc, col] = String(o.globals).split(':').map((x) => x.trim());
    if (!['omit', 'mean', 'user'].includes(calc)) throw new VbmError(`--globals '${o.globals}': expected user:COLUMN, mean or omit`);
    if (calc === 'user' && !col) throw new VbmError(`--globals user needs the column: --globals user:tiv`);
    globals.calculation = calc;
    if (col) globals.values = col;
  }
  if (o.grandMeanScaling !== undefined) {
    const v = String(o.grandMeanScaling);
    globals.grand_mean_scaling = v === 'no' ? 'no' : parseNumber('--grand-mean-scaling', v);
  }
  if (o.normalisation !== undefined) globals.normalisation = String(o.normalisation);
  if (Object.keys(globals).length) raw.globals = globals;
  return raw;
}
