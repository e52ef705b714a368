/**
 * Sample homogeneity (CAT12's "Check sample homogeneity"), as a pure kernel over blocks of voxels.
 *
 * The data arrive as blocks: for a block of B masked voxels, an n x B matrix (scan-major) of the
 * scans' values after proportional scaling. Per voxel, the nuisance columns (centred, so the
 * voxel's mean over scans is kept) are regressed out; then
 *  - the quartic mean Z-score of scan i: ( mean over voxels of z_iv^4 )^(1/4), with
 *    z_iv = (r_iv - mean_v) / sd_v the deviation of its adjusted value from the sample mean in
 *    units of the sample SD at that voxel (sd with n - 1 - q degrees of freedom for q nuisance
 *    columns). The 4th power makes a few badly deviating regions outweigh many ordinary ones;
 *  - the Gram matrix R R' of the adjusted scans and each scan's sum over voxels, from which the
 *    Pearson correlation of every pair of scans over the mask follows exactly (each scan centred
 *    over the voxels), and each scan's mean correlation with all the others.
 * Memory: the n x n Gram matrix and n-vectors; the block is the caller's.
 */
import { type Matrix, pinv } from '../model/linalg.js';

/** Accumulates, block of voxels by block, what the sample check needs: the scans' correlation (Gram) matrix and Z-score moments after nuisance removal. */
export class HomogeneityAccumulator {
  readonly n: number;
  /** Nuisance columns centred over scans (n x q), and their pseudo-inverse (q x n). */
  private readonly G: Float64Array;
  private readonly Gp: Float64Array;
  readonly q: number;
  /** Lower triangle (and diagonal) of R R', row-major n x n. */
  readonly gram: Float64Array;
  /** Sum over voxels of each adjusted scan. */
  readonly sums: Float64Array;
  /** Sum over voxels of z^4 per scan. */
  readonly z4: Float64Array;
  /** Voxels used (those whose adjusted values are not all equal). */
  voxels = 0;
  private r = new Float64Array(0);

  constructor(n: number, nuisance?: Matrix) {
    this.n = n;
    const q = nuisance && nuisance.length ? nuisance[0].length : 0;
    this.q = q;
    this.G = new Float64Array(n * q);
    this.Gp = new Float64Array(q * n);
    if (q) {
      const centred: Matrix = nuisance!.map((row) => row.slice());
      for (let j = 0; j < q; j++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += centred[i][j];
        m /= n;
        for (let i = 0; i < n; i++) centred[i][j] -= m;
      }
      const P = pinv(centred);
      for (let i = 0; i < n; i++) for (let j = 0; j < q; j++) this.G[i * q + j] = centred[i][j];
      for (let j = 0; j < q; j++) for (let i = 0; i < n; i++) this.Gp[j * n + i] = P[j][i];
    }
    this.gram = new Float64Array(n * n);
    this.sums = new Float64Array(n);
    this.z4 = new Float64Array(n);
  }

  /**
   * Fold in a block: Y[i * stride + k] is scan i at the block's voxel k (k < B). Y is adjusted
   * in place (the nuisance fit removed).
   */
  addBlock(Y: Float64Array, B: number, stride = B): void {
    const { n, q, G, Gp } = this;
    if (this.r.length < n) this.r = new Float64Array(n);
    const b = new Float64Array(q);
    const dfSd = n - 1 - q;
    const keep = new Uint8Array(B);
    for (let k = 0; k < B; k++) {
      // nuisance fit at this voxel: b = pinv(Gc) y, y -= Gc b
      if (q) {
        for (let j = 0; j < q; j++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += Gp[j * n + i] * Y[i * stride + k];
          b[j] = s;
        }
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < q; j++) s += G[i * q + j] * b[j];
          Y[i * stride + k] -= s;
        }
      }
      let mean = 0;
      for (let i = 0; i < n; i++) mean += Y[i * stride + k];
      mean /= n;
      let ss = 0;
      for (let i = 0; i < n; i++) ss += (Y[i * stride + k] - mean) ** 2;
      if (!(ss > 0) || dfSd < 1) continue;
      keep[k] = 1;
      this.voxels++;
      const inv = 1 / Math.sqrt(ss / dfSd);
      for (let i = 0; i < n; i++) {
        const z = (Y[i * stride + k] - mean) * inv;
        const z2 = z * z;
        this.z4[i] += z2 * z2;
      }
    }
    // voxels constant over scans carry no information: zero them out of the Gram sums
    for (let k = 0; k < B; k++) if (!keep[k]) for (let i = 0; i < n; i++) Y[i * stride + k] = 0;
    for (let i = 0; i < n; i++) {
      const oi = i * stride;
      let s = 0;
      for (let k = 0; k < B; k++) s += Y[oi + k];
      this.sums[i] += s;
    }
    this.addGram(Y, B, stride);
  }

  /** gram += Y Y' (lower triangle), two rows of i by four of j at a time so each load serves several products. */
  private addGram(Y: Float64Array, B: number, stride: number): void {
    const { n, gram } = this;
    const k0 = 0;
    const k1 = B;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const o0 = i * stride;
      const o1 = o0 + stride;
      let j = 0;
      for (; j + 3 <= i; j += 4) {
        const p0 = j * stride;
        const p1 = p0 + stride;
        const p2 = p1 + stride;
        const p3 = p2 + stride;
        let a0 = 0,
          a1 = 0,
          a2 = 0,
          a3 = 0,
          b0 = 0,
          b1 = 0,
          b2 = 0,
          b3 = 0;
        for (let k = k0; k < k1; k++) {
          const x = Y[o0 + k];
          const y = Y[o1 + k];
          const q0 = Y[p0 + k];
          const q1 = Y[p1 + k];
          const q2 = Y[p2 + k];
          const q3 = Y[p3 + k];
          a0 += x * q0;
          a1 += x * q1;
          a2 += x * q2;
          a3 += x * q3;
          b0 += y * q0;
          b1 += y * q1;
          b2 += y * q2;
          b3 += y * q3;
        }
        gram[i * n + j] += a0;
        gram[i * n + j + 1] += a1;
        gram[i * n + j + 2] += a2;
        gram[i * n + j + 3] += a3;
        gram[(i + 1) * n + j] += b0;
        gram[(i + 1) * n + j + 1] += b1;
        gram[(i + 1) * n + j + 2] += b2;
        gram[(i + 1) * n + j + 3] += b3;
      }
      for (; j <= i + 1; j++) {
        const p0 = j * stride;
        let a = 0;
        let b = 0;
        for (let k = k0; k < k1; k++) {
          a += Y[o0 + k] * Y[p0 + k];
          b += Y[o1 + k] * Y[p0 + k];
        }
        if (j <= i) gram[i * n + j] += a;
        gram[(i + 1) * n + j] += b;
      }
    }
    for (; i < n; i++) {
      const o0 = i * stride;
      for (let j = 0; j <= i; j++) {
        const p0 = j * stride;
        let a = 0;
        for (let k = k0; k < k1; k++) a += Y[o0 + k] * Y[p0 + k];
        gram[i * n + j] += a;
      }
    }
  }

  /** Correlation matrix (n x n, row-major) of the adjusted scans over the voxels used. */
  correlations(): Float64Array {
    const { n, gram, sums, voxels } = this;
    const C = new Float64Array(n * n);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = gram[i * n + i] - (sums[i] * sums[i]) / voxels;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        const c = (gram[i * n + j] - (sums[i] * sums[j]) / voxels) / Math.sqrt(v[i] * v[j]);
        C[i * n + j] = c;
        C[j * n + i] = c;
      }
    return C;
  }

  /** Each scan's mean correlation with the other scans, and its quartic mean Z-score. */
  measures(): { meanCorrelation: Float64Array; quarticZ: Float64Array; correlation: Float64Array } {
    const { n } = this;
    const C = this.correlations();
    const meanCorrelation = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) if (j !== i) s += C[i * n + j];
      meanCorrelation[i] = s / (n - 1);
    }
    const quarticZ = new Float64Array(n);
    for (let i = 0; i < n; i++) quarticZ[i] = Math.sqrt(Math.sqrt(this.z4[i] / this.voxels));
    return { meanCorrelation, quarticZ, correlation: C };
  }
}

/** SD of a normal sample estimated from the median absolute deviation. */
export const MAD_TO_SD = 1.482602218505602;

export function median(x: ArrayLike<number>): number {
  const s = Array.from(x).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Robust centre and SD of a sample: the median and 1.4826 x the median absolute deviation. */
export function robustScale(x: ArrayLike<number>): { centre: number; sd: number } {
  const centre = median(x);
  const dev = Array.from(x, (v) => Math.abs(v - centre));
  return { centre, sd: MAD_TO_SD * median(dev) };
}

export const FLAG_SDS = 2;

/** One scan in the sample check: its mean correlation, its quartic mean Z-score, their deviations from the median, and whether and why it is flagged. */
export interface ScanVerdict {
  /** Row of the design (0-based). */
  row: number;
  meanCorrelation: number;
  quarticZ: number;
  /** How far below the typical mean correlation, in robust SDs (positive = lower). */
  correlationDeviation: number;
  /** How far above the typical quartic mean Z, in robust SDs (positive = higher). */
  zDeviation: number;
  flagged: boolean;
  /** 'low correlation', 'high Z', or both; empty when not flagged. */
  reasons: string[];
  /** The larger of the two deviations: the ranking key (most extreme first). */
  extremity: number;
}

/**
 * The flagging rule: a scan is flagged when its mean correlation is more than 2 SD below the
 * sample's, or its quartic mean Z more than 2 SD above. Centre and SD are the median and the
 * MAD-based SD, so that the bad scans themselves do not widen the SD and hide each other (CAT12
 * uses the mean and SD, where one very bad scan can hide a milder one). On clean data whose
 * measures are normal, each one-sided rule flags 2.3% of a large sample; in a sample of 100 the
 * MAD-based SD's own sampling error raises that to about 2.5% (the threshold wobbles, and the
 * tail probability is convex in it). The two measures are positively associated (a noisier scan
 * correlates less and deviates more), so together they flag between 2.5% and 5%.
 */
export function flagScans(
  meanCorrelation: ArrayLike<number>,
  quarticZ: ArrayLike<number>,
  sds = FLAG_SDS,
): ScanVerdict[] {
  const rc = robustScale(meanCorrelation);
  const rz = robustScale(quarticZ);
  const out: ScanVerdict[] = [];
  for (let i = 0; i < meanCorrelation.length; i++) {
    const cd = rc.sd > 0 ? (rc.centre - meanCorrelation[i]) / rc.sd : 0;
    const zd = rz.sd > 0 ? (quarticZ[i] - rz.centre) / rz.sd : 0;
    const reasons: string[] = [];
    if (cd > sds) reasons.push('low correlation');
    if (zd > sds) reasons.push('high Z');
    out.push({
      row: i,
      meanCorrelation: meanCorrelation[i],
      quarticZ: quarticZ[i],
      correlationDeviation: cd,
      zDeviation: zd,
      flagged: reasons.length > 0,
      reasons,
      extremity: Math.max(cd, zd),
    });
  }
  return out;
}

/** Verdicts ordered most extreme first. */
export function rankScans(v: ScanVerdict[]): ScanVerdict[] {
  return v.slice().sort((a, b) => b.extremity - a.extremity || a.row - b.row);
}
