/**
 * Effect sizes at the peaks of a results table, from the contrast and the model record: r (and d
 * when the contrast compares two groups) for T, partial R2 for F. See inference/effectSize.ts.
 */
import type { ModelRecord } from './modelRecord.js';
import { partialR, partialR2, twoGroupContrast } from '../inference/effectSize.js';

export interface PeakEffects {
  r?: number[];
  R2?: number[];
  /** Cohen's d at each peak, and how: present for a two-group T contrast. */
  d?: { values: number[]; factor: number; groups: [string, string]; n: [number, number]; description: string };
  /** Why a T contrast has no d. */
  dReason?: string;
  /** A line for the table's footer. */
  note?: string;
}

export function peakEffects(rec: ModelRecord, c: ModelRecord['contrasts'][number], stats: number[]): PeakEffects {
  const [df1, df2] = c.df;
  if (c.type === 'F')
    return {
      R2: stats.map((f) => partialR2(f, df1, df2)),
      note: `Effect size: partial R2 = F df1 / (F df1 + df2) = F ${df1.toFixed(1)} / (F ${df1.toFixed(1)} + ${df2.toFixed(1)})`,
    };
  const r = stats.map((t) => partialR(t, df2));
  const g = twoGroupContrast(rec.design.matrix, rec.design.columns, c.weights[0]);
  if (!g.twoGroup)
    return {
      r,
      dReason: g.reason,
      note: `Effect size: partial r = T / sqrt(T^2 + ${df2.toFixed(1)}); no Cohen's d: ${g.reason}`,
    };
  return {
    r,
    d: {
      values: stats.map((t) => g.factor * t),
      factor: g.factor,
      groups: g.groups,
      n: g.n,
      description: g.description,
    },
    note: `Effect size: partial r = T / sqrt(T^2 + ${df2.toFixed(1)}); Cohen's d = ${g.factor.toPrecision(4)} x T, ${g.description} (${g.groups[0]}: ${g.n[0]} scans, ${g.groups[1]}: ${g.n[1]})`,
  };
}

/** The effect-size columns of a table, in order. */
export function effectColumns(e: PeakEffects): { name: string; values: number[] }[] {
  const out: { name: string; values: number[] }[] = [];
  if (e.r) out.push({ name: 'r', values: e.r });
  if (e.d) out.push({ name: 'd', values: e.d.values });
  if (e.R2) out.push({ name: 'R2', values: e.R2 });
  return out;
}
