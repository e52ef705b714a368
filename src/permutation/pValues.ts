/**
 * The p-values of a finished permutation test: uncorrected (each voxel's count of rearrangements
 * at least as extreme as observed), FWE from the null distribution of the maxima (counted, or in
 * the fitted tail with accel tail, or from a fitted gamma with accel gamma), for the statistic, TFCE and cluster extent and mass; and the
 * note saying what was accelerated. Counts include the observed (identity) rearrangement.
 */
import { invariant } from '../errors.js';
import { type GammaFit, type GpdFit, countAtLeast, gammaPValues, tailPValues } from './accel.js';
import type { AccelOptions } from './accel.js';
import type { AccelReport, PermutationResult } from './types.js';
import { type TopValues, type VoxelTailReport, voxelTailPValues } from './voxelTail.js';

/** The counts and maxima of the rearrangements done, and the observed maps and clusters. */
export interface PermutationTallies {
  statType: 'T' | 'F';
  /** Rearrangements requested (all of them) and done (fewer when sequential stopping ended the run). */
  requested: number;
  done: number;
  stoppedEarly: boolean;
  /** Voxel-wise counts of rearrangements with stat (tfce) >= observed. */
  countStat: Uint32Array;
  countTfce: Uint32Array | null;
  /** The null maxima of the rearrangements done (the observed first). */
  nullStat: Float64Array;
  nullTfce: Float64Array | null;
  nullExtent: Float64Array | null;
  nullMass: Float64Array | null;
  observed: { stat: Float32Array; tfce: Float32Array | null };
  observedClusters: { label: Int32Array; extent: number[]; mass: number[] } | null;
  accel: AccelOptions;
  /** The FWE level of sequential stopping. */
  stopAlpha: number;
  /** Each voxel's largest null values (accel tail or gamma), for the uncorrected tail; null: counted. */
  topStat?: TopValues | null;
  topTfce?: TopValues | null;
}

/** The p-value maps, cluster p-values and acceleration note of a permutation test. */
export type PermutationPValues = Pick<
  PermutationResult,
  'pUnc' | 'pFwe' | 'tfcePUnc' | 'tfcePFwe' | 'clusters' | 'accel'
>;

/** P-values from the tallies (see the module's comment). */
export function permutationPValues(t: PermutationTallies): PermutationPValues {
  const { accel, observed } = t;
  const V = t.countStat.length;
  const Nd = t.done;
  const gammaFits: (GammaFit | null)[] = [];
  const fwe = (nulls: Float64Array, xs: ArrayLike<number>): { p: Float64Array; fit: GpdFit | null } => {
    if (accel.tail) return tailPValues(nulls, 0, xs);
    if (accel.gamma) {
      const g = gammaPValues(nulls, 0, xs);
      gammaFits.push(g.fit); // in the order of the calls below: stat, TFCE, extent, mass
      return { p: g.p, fit: null };
    }
    const sorted = Float64Array.from(nulls).sort();
    return { p: Float64Array.from(xs, (x) => countAtLeast(sorted, x) / sorted.length), fit: null };
  };
  let pUnc: Float64Array = new Float64Array(V);
  for (let v = 0; v < V; v++) pUnc[v] = (t.countStat[v] ?? NaN) / Nd; // V is its length
  const uncTail: { stat: VoxelTailReport | null; tfce: VoxelTailReport | null } = { stat: null, tfce: null };
  if (t.topStat) {
    const u = voxelTailPValues(t.topStat, observed.stat, t.countStat, Nd);
    if (u) {
      pUnc = u.p;
      uncTail.stat = u.report;
    }
  }
  const statFwe = fwe(t.nullStat, observed.stat);
  const pFwe = statFwe.p;
  let tfcePUnc: Float64Array | null = null;
  let tfcePFwe: Float64Array | null = null;
  let tfceFit: GpdFit | null = null;
  if (t.nullTfce && t.countTfce && observed.tfce) {
    const countTfce = t.countTfce;
    invariant(countTfce.length === V, 'TFCE counts cover the voxels');
    tfcePUnc = new Float64Array(V);
    for (let v = 0; v < V; v++) tfcePUnc[v] = (countTfce[v] ?? NaN) / Nd;
    const u = t.topTfce ? voxelTailPValues(t.topTfce, observed.tfce, countTfce, Nd) : null;
    if (u) {
      tfcePUnc = u.p;
      uncTail.tfce = u.report;
    }
    const f = fwe(t.nullTfce, observed.tfce);
    tfcePFwe = f.p;
    tfceFit = f.fit;
  }
  let clusters: PermutationResult['clusters'] = null;
  let extentFit: GpdFit | null = null;
  let massFit: GpdFit | null = null;
  if (t.nullExtent && t.nullMass && t.observedClusters) {
    const cl = t.observedClusters;
    const pe = fwe(t.nullExtent, cl.extent);
    const pm = fwe(t.nullMass, cl.mass);
    extentFit = pe.fit;
    massFit = pm.fit;
    clusters = {
      label: Int32Array.from(cl.label),
      extent: cl.extent,
      mass: cl.mass,
      pExtent: Array.from(pe.p),
      pMass: Array.from(pm.p),
    };
  }
  let accelReport: AccelReport | null = null;
  if (accel.tail || accel.gamma || accel.stop) {
    const notes: string[] = [];
    if (accel.gamma) {
      const names = [
        'max ' + t.statType,
        ...(tfcePFwe ? ['TFCE'] : []),
        ...(clusters ? ['cluster extent', 'cluster mass'] : []),
      ];
      notes.push(
        `FWE p-values (${names.join(', ')}) come from a gamma distribution fitted by its mean, variance and skewness to the null maxima (PALM's gamma approximation; Winkler et al. 2016); the critical values are counted`,
      );
    }
    if (accel.tail) {
      const families: [string, unknown][] = [
        ['max ' + t.statType, statFwe.fit],
        ['TFCE', tfceFit],
        ['cluster extent', extentFit],
        ['cluster mass', massFit],
      ];
      const fitted = families.filter(([, f]) => f !== null).map(([k]) => k);
      notes.push(
        `FWE p-values below 0.1 in the fitted tail (${fitted.length ? fitted.join(', ') : 'none passed the goodness-of-fit test, so all are counted'}) come from a generalised Pareto fit to the upper tail of the null maxima (method of moments; threshold chosen by an Anderson-Darling test; Winkler et al. 2016); the critical values are counted`,
      );
    }
    if (accel.tail || accel.gamma) {
      const u = [
        ...(uncTail.stat ? [`${uncTail.stat.fitted} voxels of the ${t.statType} map`] : []),
        ...(uncTail.tfce ? [`${uncTail.tfce.fitted} of the TFCE map`] : []),
      ];
      notes.push(
        u.length
          ? `uncorrected p-values of voxels that fewer than ${uncTail.stat?.countedFrom ?? uncTail.tfce?.countedFrom} rearrangements reached (${u.join(', ')}) come from a generalised Pareto tail fitted to each voxel's ${uncTail.stat?.keep ?? uncTail.tfce?.keep} largest null values (shape the heavier of the voxel's own and one pooled across voxels, scale per voxel; Winkler et al. 2016, as in Gaser's TFCE toolbox); the others are counted`
          : `uncorrected p-values are counted (${Nd} rearrangements are too few for their per-voxel tail, or it was not kept)`,
      );
    }
    if (accel.stop) {
      notes.push(
        t.stoppedEarly
          ? `sequential stopping ended the run after ${Nd} of ${t.requested} rearrangements, when no observed peak could reach FWE p <= ${t.stopAlpha}; all p-values are counted over those ${Nd}`
          : `sequential stopping was on but every rearrangement (${Nd}) was needed`,
      );
    }
    accelReport = {
      tail: accel.tail ? { stat: statFwe.fit, tfce: tfceFit, extent: extentFit, mass: massFit } : null,
      gamma: accel.gamma
        ? {
            stat: gammaFits[0] ?? null,
            tfce: tfcePFwe ? (gammaFits[1] ?? null) : null,
            extent: clusters ? (gammaFits[tfcePFwe ? 2 : 1] ?? null) : null,
            mass: clusters ? (gammaFits[tfcePFwe ? 3 : 2] ?? null) : null,
          }
        : null,
      stop: accel.stop ? { requested: t.requested, done: Nd, stoppedEarly: t.stoppedEarly, alpha: t.stopAlpha } : null,
      ...(accel.tail || accel.gamma ? { uncorrected: uncTail } : {}),
      note: notes.join('; ') + '.',
    };
  }
  return { pUnc, pFwe, tfcePUnc, tfcePFwe, clusters, accel: accelReport };
}
