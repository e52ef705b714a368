/**
 * Colour scales for statistic maps, in the style of nilearn's "cold_hot": positive values from
 * dark red through red and orange to yellow, negative ones from dark blue through blue to cyan.
 * Only values past the threshold are ever coloured.
 */
import { item } from '../errors.js';

export type Sign = 'pos' | 'neg' | 'both';

export type RGB = [number, number, number];

const HOT: RGB[] = [
  [150, 0, 0],
  [255, 40, 0],
  [255, 150, 0],
  [255, 255, 40],
];
const COLD: RGB[] = [
  [0, 0, 150],
  [0, 40, 255],
  [0, 150, 255],
  [40, 255, 255],
];

function ramp(stops: RGB[], t: number): RGB {
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const a = item(stops, i, 'colour stops');
  const b = item(stops, i + 1, 'colour stops');
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

export interface StatScale {
  /** Displayed values are beyond +-threshold (strictly). */
  threshold: number;
  /** Value at the top of the scale (absolute). */
  vmax: number;
  sign: Sign;
}

/** Colour of a displayed statistic value: hot for positive, cold for negative. */
export function statColour(v: number, s: StatScale): RGB {
  const span = s.vmax > s.threshold ? s.vmax - s.threshold : 1;
  return v >= 0 ? ramp(HOT, (v - s.threshold) / span) : ramp(COLD, (-v - s.threshold) / span);
}

/** Whether a value is shown at all under the scale's threshold and sign. */
export function isShown(v: number, s: StatScale): boolean {
  if (!Number.isFinite(v)) return false;
  return (s.sign !== 'neg' && v > s.threshold) || (s.sign !== 'pos' && v < -s.threshold);
}

/** Background grey level (0-255) of a value on a [lo, hi] window. */
export function grey(v: number, lo: number, hi: number): number {
  if (!(v > lo)) return 0;
  if (v >= hi) return 255;
  return Math.round((255 * (v - lo)) / (hi - lo));
}
