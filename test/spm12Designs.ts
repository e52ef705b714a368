/**
 * Test helper: a Design made from SPM12's own description of a fixture study (design_matrix.csv,
 * design_columns.txt, scans.csv), so the estimation can be compared with SPM's independently of
 * vbm's design builder. Rows in SPM's scan order; variance groups from SPM's factor matrix
 * (column I2, the group factor); roles from SPM's partition (group columns H, covariates C).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Design } from '../src/model/designMatrix.js';
import { rank } from '../src/model/linalg.js';

export function spmDesign(fixture: string, opts: { unequalVariance?: boolean } = {}): Design {
  const exp = (f: string): string => join(fixture, 'expected', f);
  const columns = readFileSync(exp('design_columns.txt'), 'utf8').trim().split(/\r?\n/);
  const X = readFileSync(exp('design_matrix.csv'), 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.split(',').map(Number));
  const lines = readFileSync(exp('scans.csv'), 'utf8').trim().split(/\r?\n/);
  const head = lines[0].split(',');
  const rows = lines.slice(1).map((l) => l.split(','));
  const scanLabels = rows.map((r) => r[head.indexOf('scan')]);
  const groups = Int32Array.from(rows, (r) => Number(r[head.indexOf('I2')]) - 1);
  const n = X.length;
  const r = rank(X);
  return {
    scans: scanLabels.map((s) => join(fixture, 'case', s)),
    scanLabels,
    columns,
    X,
    covariates: [],
    intercept: false,
    n,
    p: columns.length,
    rank: r,
    df: n - r,
    collinear: [],
    rows: X.map((_, i) => i + 2),
    model: 'two_sample',
    columnInfo: [],
    factors: [],
    roles: columns.map((c) => (/^(Group|Groups|dx)_\{\d+\}$/.test(c) ? 'H' : 'C')),
    ...(opts.unequalVariance === false ? {} : { varianceGroups: groups }),
  };
}
