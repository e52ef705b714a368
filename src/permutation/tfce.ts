/**
 * Threshold-free cluster enhancement (Smith and Nichols 2009), computed exactly:
 *   TFCE(v) = integral from 0 to s(v) of e(h)^E h^H dh,
 * with e(h) the size of the cluster holding v among voxels with s >= h. Between two
 * consecutive voxel values a cluster's size is constant, so the integral is a sum of
 * e^E (a^(H+1) - b^(H+1)) / (H + 1) terms: the whole map costs one sort and one pass, no
 * fixed number of height steps.
 *
 * The positive values are sorted by a least-significant-digit radix sort on their float32 bits
 * (positive floats order as their bit patterns), which also hands back each voxel's height
 * without touching the map again. Then:
 * - with the grid known (as permutations use), the max-tree is flooded on the mask's bounding
 *   box padded by one voxel and numbered in 4x4x4 bricks (`tfceFlood.ts`): the flood's reads
 *   stay near each other, where visiting voxels in value order reads at random places;
 * - with neighbour lists only, voxels are added in descending order into a union-find whose
 *   roots carry the running integral of their cluster (each node stores its value relative to
 *   its parent).
 * Where the Node shell provided the addon's TFCE (tfceNative.ts), grid workspaces run the same
 * sort and flood in C (native/vbm_tfce.c) on Float32Array and Float64Array maps.
 */
import { invariant, item } from '../errors.js';
import type { Connectivity, Neighbours } from '../inference/neighbours.js';
import { neighbourOffsets } from '../inference/neighbours.js';
import { BrickBox } from './brickBox.js';
import { FloodWorkspace, primitive, tfceByFlooding, weight } from './tfceFlood.js';
import { type NativeTfce, type NativeTfceHandle, providedNativeTfce } from './tfceNative.js';

/** TFCE exponents: E weights the cluster extent, H the height. */
export interface TfceParams {
  E: number;
  H: number;
}

/** FSL's TFCE exponents for 3-D images: extent E = 0.5, height H = 2. */
export const FSL_TFCE: TfceParams = { E: 0.5, H: 2 };

/** Where the analysed voxels are: grid index of each (ascending), grid dims, connectivity. */
export interface TfceGrid {
  voxels: Int32Array;
  dims: readonly number[];
  connectivity: Connectivity;
}

/** Reusable buffers for exact TFCE on one set of masked voxels, so that thousands of permuted maps allocate nothing. */
export class TfceWorkspace {
  /** Node of each voxel: its bounding-box index with a grid, else the voxel's own index. */
  readonly node: Int32Array;
  /** List mode (no grid): union-find parent of each voxel, -1 while it is not yet added. */
  readonly parent: Int32Array;
  /** List mode: cluster size, valid at roots. */
  readonly size: Int32Array;
  /** List mode: value relative to the parent; at roots the cluster's integral down to `low`. */
  readonly rel: Float64Array;
  /** List mode: height down to which a root's integral is done. */
  readonly low: Float64Array;
  /** Sort buffers: float32 bits of the positive values (and their float view) and voxel nodes. */
  readonly keys: Uint32Array;
  readonly keysF: Float32Array;
  readonly vox: Int32Array;
  private readonly keys2: Uint32Array;
  private readonly vox2: Int32Array;
  private readonly counts = new Uint32Array(3 * 2048);
  readonly path: Int32Array;
  /** Grid mode: the flood's buffers on the bounding box padded by one voxel. */
  readonly flood: FloodWorkspace | null;
  /** Grid mode with the addon: its TFCE and workspace (the same sort and flood in C). */
  readonly native: { k: NativeTfce; ws: NativeTfceHandle } | null = null;
  /**
   * `native`: the addon's TFCE for grid mode (default: the one this thread was provided, if any;
   * null: the JavaScript flood).
   */
  constructor(
    readonly V: number,
    grid?: TfceGrid,
    native: NativeTfce | null = providedNativeTfce(),
  ) {
    let listNodes = V;
    let sortLength = V;
    this.flood = null;
    if (grid) {
      if (grid.voxels.length !== V) throw new Error(`TfceWorkspace: ${grid.voxels.length} grid voxels for ${V} values`);
      const nx = item(grid.dims, 0, 'grid dims');
      const ny = item(grid.dims, 1, 'grid dims');
      const voxels = grid.voxels; // V long (checked above): the `?? 0` / `?? NaN` reads are never taken
      const lo = [Infinity, Infinity, Infinity];
      const hi = [-Infinity, -Infinity, -Infinity];
      for (let v = 0; v < V; v++) {
        const g = voxels[v] ?? 0;
        const x = g % nx;
        const y = Math.floor(g / nx) % ny;
        const z = Math.floor(g / (nx * ny));
        const c = [x, y, z];
        for (let k = 0; k < 3; k++) {
          const ck = c[k] ?? NaN;
          if (ck < (lo[k] ?? NaN)) lo[k] = ck;
          if (ck > (hi[k] ?? NaN)) hi[k] = ck;
        }
      }
      if (V === 0) {
        lo.fill(0);
        hi.fill(0);
      }
      const [lx, ly, lz] = [item(lo, 0), item(lo, 1), item(lo, 2)];
      const bx = item(hi, 0) - lx + 3;
      const by = item(hi, 1) - ly + 3;
      const bz = item(hi, 2) - lz + 3;
      const box = new BrickBox(bx, by, bz);
      this.node = new Int32Array(V);
      for (let v = 0; v < V; v++) {
        const g = voxels[v] ?? 0;
        const x = g % nx;
        const y = Math.floor(g / nx) % ny;
        const z = Math.floor(g / (nx * ny));
        this.node[v] = box.index(x - lx + 1, y - ly + 1, z - lz + 1);
      }
      const steps = neighbourOffsets(grid.connectivity);
      const bricks = box.neighbourBricks(steps);
      if (native) {
        // the C workspace holds its own buffers: the JavaScript flood's and sort's are not made
        this.native = { k: native, ws: native.tfceWorkspace(box.nodes, V, this.node, bricks.entries, bricks.count) };
        sortLength = 0;
      } else this.flood = new FloodWorkspace(box.nodes, V, bricks);
      listNodes = 0;
    } else {
      this.node = new Int32Array(V);
      for (let v = 0; v < V; v++) this.node[v] = v;
    }
    this.parent = new Int32Array(listNodes).fill(-1);
    this.size = new Int32Array(listNodes);
    this.rel = new Float64Array(listNodes);
    this.low = new Float64Array(listNodes);
    this.keys = new Uint32Array(sortLength);
    this.keysF = new Float32Array(this.keys.buffer);
    this.vox = new Int32Array(sortLength);
    this.keys2 = new Uint32Array(sortLength);
    this.vox2 = new Int32Array(sortLength);
    this.path = new Int32Array(Math.max(1, listNodes));
  }

  /**
   * Sort the positive values of `stat` ascending, with their union-find nodes in `vox` (stable: ties keep voxel order) by three
   * 11-bit passes of a radix sort on their float32 bits; returns how many there are.
   */
  sortPositive(stat: ArrayLike<number>): number {
    const V = this.V;
    const { counts, node } = this;
    // every index below is within its array (V values, m <= V keys, 3 x 2048 counts): the `??` reads are never taken
    invariant(stat.length >= V, 'TFCE: the map covers the workspace voxels');
    counts.fill(0);
    const f = this.keysF; // written as float32, read back as bits
    const bits = this.keys;
    let m = 0;
    for (let v = 0; v < V; v++) {
      const s = stat[v] ?? NaN;
      if (s > 0) {
        f[m] = s;
        this.vox[m++] = node[v] ?? 0;
      }
    }
    for (let i = 0; i < m; i++) {
      const b = bits[i] ?? 0;
      counts[b & 2047] = (counts[b & 2047] ?? 0) + 1;
      counts[2048 + ((b >>> 11) & 2047)] = (counts[2048 + ((b >>> 11) & 2047)] ?? 0) + 1;
      counts[4096 + (b >>> 22)] = (counts[4096 + (b >>> 22)] ?? 0) + 1;
    }
    let src = bits;
    let srcV = this.vox;
    let dst = this.keys2;
    let dstV = this.vox2;
    for (let pass = 0; pass < 3; pass++) {
      const base = pass * 2048;
      const shift = pass * 11;
      let sum = 0;
      for (let d = 0; d < 2048; d++) {
        const c = counts[base + d] ?? 0;
        counts[base + d] = sum;
        sum += c;
      }
      for (let i = 0; i < m; i++) {
        const b = src[i] ?? 0;
        const at = base + ((b >>> shift) & 2047);
        const pos = counts[at] ?? 0;
        counts[at] = pos + 1;
        dst[pos] = b;
        dstV[pos] = srcV[i] ?? 0;
      }
      const t = src;
      src = dst;
      dst = t;
      const tv = srcV;
      srcV = dstV;
      dstV = tv;
    }
    // three passes leave the result in the second buffers: copy back (sequential, cheap)
    this.keys.set(src.subarray(0, m));
    this.vox.set(srcV.subarray(0, m));
    return m;
  }
}

/**
 * Path compression from node `start` (whose parent `r` is not a root): every node on the way is
 * pointed at the root, its value made relative to the root (the sum of the relative values above
 * it). Returns the root. `path` is scratch.
 */
function compressPath(parent: Int32Array, rel: Float64Array, path: Int32Array, start: number, r: number): number {
  let len = 0;
  path[len++] = start;
  while ((parent[r] ?? -1) !== r) {
    path[len++] = r;
    r = parent[r] ?? -1;
  }
  let acc = 0;
  for (let j = len - 1; j >= 0; j--) {
    const x = path[j] ?? 0;
    acc += rel[x] ?? NaN;
    rel[x] = acc;
    parent[x] = r;
  }
  return r;
}

/**
 * Join the cluster of root `ra` (holding the voxel just added at height h) with the cluster of
 * node w (already added); returns the root of the joined cluster.
 */
function link(ws: TfceWorkspace, ra: number, w: number, h: number, Fh: number, E: number, H1: number): number {
  const { parent, size, rel, low, path } = ws;
  let r = parent[w] ?? -1;
  if (r === ra) return ra;
  // root of w, compressing the path (each node keeps its value relative to the root)
  if ((parent[r] ?? -1) !== r) r = compressPath(parent, rel, path, w, r);
  if (r === ra) return ra;
  // bring both clusters' integrals down to h, then merge the smaller into the larger
  let lh = low[ra] ?? NaN;
  if (lh !== h) {
    rel[ra] = (rel[ra] ?? NaN) + weight(size[ra] ?? 0, E) * (primitive(lh, H1) - Fh);
    low[ra] = h;
  }
  lh = low[r] ?? NaN;
  if (lh !== h) {
    rel[r] = (rel[r] ?? NaN) + weight(size[r] ?? 0, E) * (primitive(lh, H1) - Fh);
    low[r] = h;
  }
  let big = ra;
  let small = r;
  if ((size[r] ?? 0) > (size[ra] ?? 0)) {
    big = r;
    small = ra;
  }
  rel[small] = (rel[small] ?? NaN) - (rel[big] ?? NaN);
  parent[small] = big;
  size[big] = (size[big] ?? 0) + (size[small] ?? 0);
  return big;
}

/**
 * TFCE of the positive part of `stat` (masked voxels) into `out`; returns its maximum (as stored
 * in `out`). `nb` gives each voxel's neighbours (unused when the workspace was made with the
 * grid, whose connectivity then applies). `ws` is reused between calls. With a grid, the heights
 * are the map's values as float32 (exact for float32 maps, which is what permutations make).
 */
export function tfce(
  stat: ArrayLike<number>,
  nb: Neighbours,
  params: TfceParams,
  out: Float32Array | Float64Array,
  ws: TfceWorkspace,
): number {
  const V = ws.V;
  const { node, parent, size, rel, low, path } = ws;
  const E = params.E;
  const H1 = params.H + 1;
  // stat (checked by sortPositive) and out are V long, every node lies in its arrays: the `??` reads are never taken
  invariant(out.length >= V, 'TFCE: the output covers the workspace voxels');
  if (ws.native) {
    invariant(stat.length >= V, 'TFCE: the map covers the workspace voxels');
    if (stat instanceof Float32Array || stat instanceof Float64Array)
      return ws.native.k.tfce(ws.native.ws, stat, E, H1, out);
    // another array type: a float64 copy, which the C sort reads as the JavaScript sort reads the original
    return ws.native.k.tfce(
      ws.native.ws,
      Float64Array.from({ length: V }, (_, v) => stat[v] ?? NaN),
      E,
      H1,
      out,
    );
  }
  const m = ws.sortPositive(stat);
  const order = ws.vox;
  // grid mode: the sort hands back each voxel's box node and its height (as float32)
  if (ws.flood) return tfceByFlooding(ws.flood, order, ws.keysF, m, E, H1, stat, node, out);
  // list mode: union-find in descending value order
  const { start, list } = nb;
  for (let k = m - 1; k >= 0; k--) {
    const v = order[k] ?? 0;
    const h = stat[v] ?? NaN;
    const Fh = primitive(h, H1);
    parent[v] = v;
    size[v] = 1;
    rel[v] = 0;
    low[v] = h;
    let ra = v;
    for (let q = start[v] ?? 0, qe = start[v + 1] ?? 0; q < qe; q++) {
      const w = list[q] ?? 0;
      const r = parent[w] ?? -1;
      if (r >= 0 && r !== ra) ra = link(ws, ra, w, h, Fh, E, H1);
    }
  }
  // finish every cluster's integral down to 0
  for (let k = 0; k < m; k++) {
    const a = order[k] ?? 0;
    if ((parent[a] ?? -1) === a) {
      rel[a] = (rel[a] ?? NaN) + weight(size[a] ?? 0, E) * primitive(low[a] ?? NaN, H1);
      low[a] = 0;
    }
  }
  // each voxel's value: its own plus its root's (after compressing its path), in voxel order
  let max = 0;
  for (let v = 0; v < V; v++) {
    const a = node[v] ?? 0;
    let r = parent[a] ?? -1;
    if (r < 0) {
      out[v] = 0;
      continue;
    }
    if (r !== a && (parent[r] ?? -1) !== r) r = compressPath(parent, rel, path, a, r);
    out[v] = r === a ? (rel[a] ?? NaN) : (rel[a] ?? NaN) + (rel[r] ?? NaN);
    // the maximum as stored (float32 maps round), so that it compares exactly with the map
    if ((out[v] ?? NaN) > max) max = out[v] ?? NaN;
  }
  // reset the touched nodes for the next map
  for (let k = 0; k < m; k++) parent[order[k] ?? 0] = -1;
  return max;
}

/**
 * TFCE by the stepped sum FSL and nilearn use: heights dh, 2dh, ... up to the map's maximum,
 * each adding e(h)^E h^H dh. For tests (it converges to the exact integral as dh shrinks).
 */
export function tfceStepped(stat: ArrayLike<number>, nb: Neighbours, params: TfceParams, dh: number): Float64Array {
  const V = stat.length;
  const out = new Float64Array(V);
  let max = 0;
  for (let v = 0; v < V; v++) {
    const x = item(stat, v);
    if (x > max) max = x;
  }
  const label = new Int32Array(V);
  const stack = new Int32Array(V);
  for (let h = dh; h <= max; h += dh) {
    label.fill(0);
    let count = 0;
    for (let s = 0; s < V; s++) {
      if (!(item(stat, s) >= h) || label[s]) continue;
      count++;
      let top = 0;
      const members: number[] = [];
      stack[top++] = s;
      label[s] = count;
      while (top) {
        const v = item(stack, --top, 'stack');
        members.push(v);
        for (let q = item(nb.start, v), end = item(nb.start, v + 1); q < end; q++) {
          const w = item(nb.list, q, 'neighbours');
          if (item(stat, w) >= h && !label[w]) {
            label[w] = count;
            stack[top++] = w;
          }
        }
      }
      const add = Math.pow(members.length, params.E) * Math.pow(h, params.H) * dh;
      for (const v of members) out[v] = item(out, v) + add;
    }
  }
  return out;
}
