import { VbmError } from '../errors.js';
import type { Centring } from '../model/designMatrix.js';

/** Commander's parsed options of one command, by camel-case name (`--peak-distance` is `peakDistance`). */
export type Options = Record<string, unknown>;

/** The flag as the user wrote it: `peakDistance` -> `--peak-distance`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The value of an option that takes one (`--name <v>`), or undefined when it is not given. */
export function str(o: Options, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new VbmError(
      `${flagName(key)} needs a value (got ${JSON.stringify(v)})`,
      `give it as ${flagName(key)} VALUE`,
    );
  return v;
}

/** The values of a repeatable or variadic option (`--name <v...>`), or undefined when it is not given. */
export function strs(o: Options, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new VbmError(
      `${flagName(key)} needs one or more values (got ${JSON.stringify(v)})`,
      `give it as ${flagName(key)} VALUE`,
    );
  return v;
}

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
      if (v !== 'mean' && v !== 'none' && v !== 'factor')
        throw new VbmError(`--centring '${s}': '${v}' is not 'mean', 'factor' (within the factor's levels) or 'none'`);
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

/** The analysis-file keys the design flags stand for (validated by the analysis file's parser). */
export function designKeysFromFlags(o: Options): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const k of ['model', 'factor', 'subject', 'condition', 'variance'] as const)
    if (o[k] !== undefined) raw[k] = str(o, k);
  if (o.levels !== undefined) raw.levels = parseList(str(o, 'levels'));
  if (o.factors !== undefined) raw.factors = parseList(str(o, 'factors'));
  const interaction = strs(o, 'interaction');
  if (interaction !== undefined) {
    const items = interaction.flatMap((x) => parseList(x) ?? []);
    const map: Record<string, string> = {};
    for (const item of items) {
      const [cov, fac, more] = item.split(':').map((x) => x.trim());
      if (!cov || !fac || more !== undefined)
        throw new VbmError(`--interaction '${item}': expected COVARIATE:FACTOR, e.g. tiv:group`);
      map[cov] = fac;
    }
    raw.interactions = map;
  }
  const globals: Record<string, unknown> = {};
  const globalsFlag = str(o, 'globals');
  if (globalsFlag !== undefined) {
    const [calc, col] = globalsFlag.split(':').map((x) => x.trim());
    if (!['omit', 'mean', 'user'].includes(calc))
      throw new VbmError(`--globals '${globalsFlag}': expected user:COLUMN, mean or omit`);
    if (calc === 'user' && !col) throw new VbmError(`--globals user needs the column: --globals user:tiv`);
    globals.calculation = calc;
    if (col) globals.values = col;
  }
  const scaling = str(o, 'grandMeanScaling');
  if (scaling !== undefined)
    globals.grand_mean_scaling = scaling === 'no' ? 'no' : parseNumber('--grand-mean-scaling', scaling);
  const normalisation = str(o, 'normalisation');
  if (normalisation !== undefined) globals.normalisation = normalisation;
  if (Object.keys(globals).length) raw.globals = globals;
  return raw;
}
