/**
 * What the sample check leaves in a folder: the file names and the check.json record. Here, below
 * both the pipeline that writes them and the report that reads them.
 */
import type { ScanVerdict } from './homogeneity.js';

export const CHECK_CSV = 'check.csv';
export const CHECK_JSON = 'check.json';
export const CHECK_PNG = 'check.png';

/** The record of a sample check (check.json): settings, each scan's measures and flags, and the rule used. */
export interface CheckSummary {
  format: 'vbm-check';
  design: string;
  mask: string | null;
  globals: string | null;
  nuisance: string[];
  scans: number;
  voxels: number;
  rule: string;
  meanCorrelation: { median: number; sd: number; threshold: number };
  quarticZ: { median: number; sd: number; threshold: number };
  flagged: number;
  /** Per scan, in design order. */
  perScan: (ScanVerdict & { scan: string; rank: number })[];
}
