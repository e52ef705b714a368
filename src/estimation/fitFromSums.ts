/**
 * The fitted model from the summed scans (fitSolve.ts fitSummed) with the distributions' F quantile for
 * variance groups (SPM's non-sphericity voxel selection): the form the library and the browser's fit
 * call. The Node fit loads the distributions only when a design has variance groups.
 */
import { statFromTail } from '../inference/distributions.js';
import { type FittedModel, type SummedScans, fitSummed } from './fitSolve.js';

/** The fitted model from the summed scans: analysis mask, estimates, ResMS, smoothness. */
export function fitFromSums(inp: SummedScans): FittedModel {
  return fitSummed({ fQuantile: (p, df) => statFromTail('F', p, df), ...inp });
}
