/**
 * The plan of a permutation test, made once per test: the Freedman-Lane partition of the design
 * (effect and nuisance bases, by SVD), the scheme (permutations or sign flips), the product rows
 * the kernel multiplies with the residuals, and the number of distinct rearrangements. The
 * requests that cannot work (a constant effect permuted, too few rearrangements) are refused here,
 * before any scan is read.
 */
import { type Origin, settingName } from '../settings/setting.js';
import { PERMUTE } from '../settings/vocabulary.js';
import { VbmError } from '../errors.js';
import { type Partition, partitionDesign, productRows } from './partition.js';
import { type Scheme, logDistinct } from './schemes.js';

/** The settings the plan depends on (a subset of PermuteOptions). */
export interface SchemeSettings {
  /** 'auto' (default): permutations, or sign flips when the effect is constant within blocks. */
  scheme?: 'auto' | Scheme;
  /** Exchangeability block of each scan. */
  blocks?: number[];
  /** Where the settings were written, so that errors name them as the user did. */
  origin?: Origin;
}

/** What planScheme decides: pass it on (PermutationInput.plan) so that the test does not plan again. */
export interface SchemePlan {
  part: Partition;
  scheme: Scheme;
  /** Product rows (effect then nuisance), each of length n. */
  rows: Float64Array[];
  effectRows: number;
  /** Number of distinct rearrangements the design and blocks allow. */
  distinct: number;
}

/**
 * Plan the test of a contrast (weights over the columns of X) under these settings, or refuse it
 * with a VbmError that says why and what to do.
 */
export function planScheme(
  X: number[][],
  weights: number[][],
  type: 'T' | 'F',
  con: { index: number; name: string },
  opts: SchemeSettings,
): SchemePlan {
  const n = X.length;
  if (opts.blocks && opts.blocks.length !== n)
    throw new VbmError(
      `${settingName(PERMUTE.blocks, opts.origin)} (exchangeability blocks): ${opts.blocks.length} given for ${n} scans`,
      'give one block number per scan, in the order of the design',
    );
  const part = partitionDesign(X, weights, type, opts.blocks);
  let scheme: Scheme;
  const wanted = opts.scheme ?? 'auto';
  if (wanted === 'auto') scheme = part.effectConstantWithinBlocks ? 'signflip' : 'permute';
  else scheme = wanted;
  if (scheme === 'permute' && part.effectConstantWithinBlocks) {
    throw new VbmError(
      `contrast ${con.index} '${con.name}' tests an effect that is the same for every scan${opts.blocks ? ' within each exchangeability block' : ''}: permuting the scans cannot change its statistic`,
      `use sign flipping (${settingName(PERMUTE.scheme, opts.origin)} signflip, which assumes symmetric errors), the default for such contrasts`,
    );
  }
  const { rows, effectRows } = productRows(part, scheme);
  const distinct = Math.exp(logDistinct(scheme, rows, n, opts.blocks));
  if (distinct < 20) {
    throw new VbmError(
      `only ${Math.round(distinct)} distinct ${scheme === 'permute' ? 'permutations' : 'sign flips'} exist for ${n} scans with this design, so no p-value could go below ${(1 / distinct).toFixed(3)}`,
      'add scans, or use the parametric results (vbm results)',
    );
  }
  return { part, scheme, rows, effectRows, distinct };
}

/**
 * The exchangeability that variance groups imply. With unequal variances the errors are not
 * exchangeable across variance groups (Winkler et al. 2014: exchangeable errors need equal
 * variances; independent symmetric errors do not), so the default is sign flipping of the
 * Freedman-Lane residuals, and permutations, when asked for, stay within variance groups (the
 * groups are the exchangeability blocks unless blocks are given). One place, used by the local
 * test and by the planner of distributed tasks, so both draw the same rearrangements.
 */
export function withVarianceGroups<O extends { blocks?: number[]; scheme?: 'auto' | Scheme }>(
  options: O,
  varianceGroups?: ArrayLike<number>,
): O {
  const vg = varianceGroups && new Set(Array.from(varianceGroups)).size > 1 ? Array.from(varianceGroups) : undefined;
  if (!vg) return options;
  return {
    ...options,
    blocks: options.blocks ?? vg,
    scheme: (options.scheme ?? 'auto') === 'auto' ? ('signflip' as const) : options.scheme,
  };
}
