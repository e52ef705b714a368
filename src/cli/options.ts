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

/** `--centring mean`, `--centring none`, or per column `age=mean,sex=none`. */
export function parseCentring(s: string | undefined): { default?: Centring; perColumn: Record<string, Centring> } {
  const out: { default?: Centring; perColumn: Record<string, Centring> } = { perColumn: {} };
  if (!s) return out;
  for (const item of s.split(',').map((x) => x.trim())) {
    const [a, b] = item.split('=').map((x) => x.trim());
    const check = (v: string): Centring => {
      if (v !== 'mean' && v !== 'none') throw new VbmError(`--centring '${s}': '${v}' is not 'mean' or 'none'`);
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
