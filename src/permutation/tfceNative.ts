/**
 * Exact TFCE in C as a service (pure: the Node shell, nativeKernel.ts, loads the addon built from
 * native/vbm_tfce.c and provides it here, in each thread that computes TFCE). It computes what
 * tfceFlood.ts computes, step for step and with the same float64 operations in the same order, so
 * the same maps (bit for bit with the default exponents; see native/vbm_tfce.c for pow()).
 * Without it (no addon, VBM_NATIVE=0 builds, browsers) tfceFlood.ts runs.
 */

/** A workspace of the native TFCE (opaque: C memory freed with the object). */
export type NativeTfceHandle = object;

/** The addon's TFCE entry points. */
export interface NativeTfce {
  /**
   * A workspace for V masked voxels on a bricked box of `boxNodes` nodes: `node` the box node of
   * each voxel, `entries` and `count` the neighbour masks of `BrickBox.neighbourBricks` (copied).
   */
  tfceWorkspace: (
    boxNodes: number,
    V: number,
    node: Int32Array,
    entries: Int32Array,
    count: Uint8Array,
  ) => NativeTfceHandle;
  /** TFCE of the positive part of `stat` (V values) into `out` with exponents E and H + 1; returns the maximum as stored. */
  tfce: (
    ws: NativeTfceHandle,
    stat: Float32Array | Float64Array,
    E: number,
    H1: number,
    out: Float32Array | Float64Array,
  ) => number;
}

let provided: NativeTfce | null = null;

/** Makes the loaded addon's TFCE the one this thread's new grid workspaces use (null: the JavaScript flood). */
export function provideNativeTfce(k: NativeTfce | null): void {
  provided = k;
}

/** The native TFCE of this thread, or null. */
export function providedNativeTfce(): NativeTfce | null {
  return provided;
}
