/**
 * The smoothness estimate on a worker thread (src/work.ts work module), where the addon cannot run its
 * loop on threads of its own (no smoothnessAsync, or VBM_FIT_KERNEL=wasm|js; fit.ts smoothnessOnThread):
 * the Node fit hands it the estimate's input on shared memory once the betas are solved, and the
 * calling thread meanwhile encodes the estimates' images and computes the contrasts. One item, the
 * whole estimate: its sums run over the voxels in order, so it is the same bits as on the calling
 * thread. The resel counts of the analysis mask, which need the FWHM, follow on the same thread.
 */
import type { WorkModule } from '../work.js';
import { type ReselCounts, reselCounts } from '../inference/resels.js';
import { nativeMaskCounter, nativeSmoothnessLoop } from './nativeFit.js';
import { type SmoothnessEstimate, type SmoothnessInput, estimateSmoothness } from './smoothness.js';

/** The estimate's input (its arrays on SharedArrayBuffers), where to put the RPV, and the analysis mask. */
export interface SmoothnessShared {
  input: SmoothnessInput;
  /** One per in-mask voxel, shared: receives the resels per voxel. */
  rpv: Float64Array;
  /** The analysis mask on the full grid (1 = analysed), for the resel counts. */
  mask: Uint8Array;
}

/** The estimate without its RPV (that is in the shared array), and the mask's resel counts. */
export interface SmoothnessResult {
  estimate: Omit<SmoothnessEstimate, 'rpv'>;
  resels: ReselCounts;
}

export const work: WorkModule<SmoothnessShared, number, SmoothnessResult> = {
  start: (shared) => () => {
    const { rpv: _rpv, ...estimate } = estimateSmoothness(shared.input, nativeSmoothnessLoop(), shared.rpv);
    void _rpv;
    return {
      estimate,
      resels: reselCounts(shared.mask, shared.input.dims, estimate.fwhmVox, nativeMaskCounter()),
    };
  },
};
