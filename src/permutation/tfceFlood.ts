/**
 * Exact TFCE on a grid by flooding the max-tree (Nistér and Stewénius 2008's linear-time
 * component tree, turned upside down), not by visiting voxels in value order.
 *
 * Why: a union-find fed in value order touches each voxel's 26 neighbours at random places of
 * a bounding-box-sized array, about nine cache misses per voxel. A flood moves from a voxel to
 * a neighbour: it always stands on the voxel it just explored or on the highest voxel of the
 * boundary of what it has explored, so its reads stay near each other. Only the boundary is
 * kept in a priority queue, over the voxels' ranks in the sorted order (`RankQueue`: a small
 * bitset, not a heap).
 *
 * The flood (for a max-tree: climb, do not descend): stand on a voxel, explore its neighbours
 * not yet seen; the first one that is higher becomes the current voxel (the current one goes
 * back to the queue, remembering how far its exploration got) and opens a new component on
 * the stack; lower ones go to the queue. When a voxel has no unseen higher neighbour it joins the
 * component on top of the stack, and the flood goes on from the highest queued voxel. When that
 * is lower than the top component, the stack is brought down to its height: components above it
 * close into the one below, or the top one carries on at the lower height as a new tree node.
 *
 * TFCE from the tree: a node of size e that holds between heights b and a (its parent's height and
 * its own) adds e^E (a^(H+1) - b^(H+1)) / (H+1) to every voxel under it, and a voxel's TFCE is the
 * sum over the nodes from its own to the root. Ranks are distinct (ties are ordered by voxel), so
 * tied voxels make zero-height nodes that add exactly 0. Each node's sum is made once, parents
 * before children (the reverse of the order in which nodes close), in float64.
 */
import { RankQueue } from './rankQueue.js';

/** Buffers of the flood over a padded bounding box of `boxNodes` nodes for at most `V` positive voxels. */
export class FloodWorkspace {
  /**
   * A bit per box node (a `BrickBox`): set while the voxel is positive and not yet seen. A
   * brick is 8 bytes, so the whole box stays in the second-level cache, a 3x3x3 neighbourhood
   * is tested on ~2 cache lines, and the int32 arrays of the box are read only for the voxels
   * the flood discovers. All clear between maps.
   */
  readonly fresh: Int32Array;
  /** Per box node: the voxel's rank (positive voxels of the current map); -(n + 2) once it joined tree node n. */
  readonly rank: Int32Array;
  /** Per rank: already seen (to find the next cluster's peak when the queue runs dry). */
  readonly seen: Uint8Array;
  readonly queue: RankQueue;
  /** Per tree node: rank of its height, size, primitive of its height, its term (then its sum), parent. */
  readonly level: Int32Array;
  readonly size: Int32Array;
  readonly prim: Float64Array;
  readonly sum: Float64Array;
  readonly up: Int32Array;
  /** Tree nodes in the order they closed (children before parents), and the open ones. */
  readonly closed: Int32Array;
  readonly stack: Int32Array;

  constructor(
    boxNodes: number,
    readonly V: number,
    /** The neighbours of each place in a brick, as masks of the neighbour bricks' bits (`BrickBox.neighbourBricks`). */
    readonly bricks: { entries: Int32Array; count: Uint8Array },
  ) {
    this.fresh = new Int32Array(Math.ceil(boxNodes / 32));
    this.rank = new Int32Array(boxNodes);
    const n = Math.max(1, V);
    this.seen = new Uint8Array(n);
    this.queue = new RankQueue(n);
    this.level = new Int32Array(n);
    this.size = new Int32Array(n);
    this.prim = new Float64Array(n);
    this.sum = new Float64Array(n);
    this.up = new Int32Array(n);
    this.closed = new Int32Array(n);
    this.stack = new Int32Array(n);
  }
}

/** Cluster-size weight e^E, and the height primitive h^(H+1) / (H+1). */
export function weight(size: number, E: number): number {
  return E === 0.5 ? Math.sqrt(size) : Math.pow(size, E);
}
export function primitive(h: number, H1: number): number {
  return H1 === 3 ? (h * h * h) / 3 : Math.pow(h, H1) / H1;
}

/**
 * TFCE of the `m` positive voxels given in ascending order (`order`: box node of each rank,
 * `heights`: its value) into `out` (voxel order; `node`: box node of each masked voxel; `stat`
 * says which voxels are positive, as the sort did). Returns the maximum as stored in `out`.
 */
export function tfceByFlooding(
  fw: FloodWorkspace,
  order: Int32Array,
  heights: Float32Array,
  m: number,
  E: number,
  H1: number,
  stat: ArrayLike<number>,
  node: Int32Array,
  out: Float32Array | Float64Array,
): number {
  const { fresh, rank, seen, queue, level, size, prim, sum, up, closed, stack } = fw;
  const { entries, count } = fw.bricks;
  // every index is in range (m <= V ranks and tree nodes, box nodes and their padded neighbours): the `??` reads are never taken
  for (let k = 0; k < m; k++) {
    const a = order[k] ?? 0;
    rank[a] = k;
    fresh[a >>> 5] = (fresh[a >>> 5] ?? 0) | (1 << (a & 31));
  }
  seen.fill(0, 0, m);
  let nodes = 0;
  let nClosed = 0;
  let sp = 0;
  let peak = m - 1;
  for (;;) {
    // the highest voxel not yet seen starts the next cluster
    while (peak >= 0 && seen[peak] !== 0) peak--;
    if (peak < 0) break;
    let cr = peak;
    let cur = order[cr] ?? 0;
    fresh[cur >>> 5] = (fresh[cur >>> 5] ?? 0) & ~(1 << (cur & 31));
    seen[cr] = 1;
    level[nodes] = cr;
    size[nodes] = 0;
    prim[nodes] = primitive(heights[cr] ?? NaN, H1);
    stack[sp++] = nodes++;
    explore: for (;;) {
      // explore the current voxel's unseen neighbours (tested a brick at a time); climb to the
      // first higher one. Explored neighbours are marked seen at once, so a voxel sent back to
      // the queue simply tests its neighbourhood again when it comes back.
      const p = cur & 63;
      const first = (cur >>> 6) << 1;
      for (let e = p * 24, end = e + 3 * (count[p] ?? 0); e < end; e += 3) {
        const wi = first + (entries[e] ?? 0);
        for (let half = 0; half < 2; half++) {
          let cand = (fresh[wi + half] ?? 0) & (entries[e + 1 + half] ?? 0);
          while (cand !== 0) {
            const bit = cand & -cand;
            cand ^= bit;
            fresh[wi + half] = (fresh[wi + half] ?? 0) & ~bit;
            const w = ((wi + half) << 5) | (31 - Math.clz32(bit));
            const rw = rank[w] ?? 0;
            seen[rw] = 1;
            if (rw > cr) {
              queue.push(cr);
              cur = w;
              cr = rw;
              level[nodes] = cr;
              size[nodes] = 0;
              prim[nodes] = primitive(heights[cr] ?? NaN, H1);
              stack[sp++] = nodes++;
              continue explore;
            }
            queue.push(rw);
          }
        }
      }
      // explored: the voxel joins the component on top
      let t = stack[sp - 1] ?? 0;
      size[t] = (size[t] ?? 0) + 1;
      rank[cur] = -(t + 2);
      if (queue.empty()) break;
      const nr = queue.popMax();
      // bring the stack down to the height of rank nr
      if ((level[t] ?? 0) > nr) {
        const pn = primitive(heights[nr] ?? NaN, H1);
        for (;;) {
          const s = sp >= 2 ? (stack[sp - 2] ?? 0) : -1;
          const wt = weight(size[t] ?? 0, E);
          if (s >= 0 && (level[s] ?? 0) >= nr) {
            // t closes into the component below it
            sum[t] = wt * ((prim[t] ?? NaN) - (prim[s] ?? NaN));
            up[t] = s;
            closed[nClosed++] = t;
            size[s] = (size[s] ?? 0) + (size[t] ?? 0);
            sp--;
            t = s;
            if ((level[t] ?? 0) === nr) break;
          } else {
            // t carries on at the lower height as a new node
            const n = nodes++;
            level[n] = nr;
            size[n] = size[t] ?? 0;
            prim[n] = pn;
            sum[t] = wt * ((prim[t] ?? NaN) - pn);
            up[t] = n;
            closed[nClosed++] = t;
            stack[sp - 1] = n;
            break;
          }
        }
      }
      cr = nr;
      cur = order[nr] ?? 0;
    }
    // the cluster is flooded: close its stack down to height 0
    let t = stack[sp - 1] ?? 0;
    while (sp > 1) {
      const s = stack[sp - 2] ?? 0;
      sum[t] = weight(size[t] ?? 0, E) * ((prim[t] ?? NaN) - (prim[s] ?? NaN));
      up[t] = s;
      closed[nClosed++] = t;
      size[s] = (size[s] ?? 0) + (size[t] ?? 0);
      sp--;
      t = s;
    }
    sum[t] = weight(size[t] ?? 0, E) * (prim[t] ?? NaN);
    up[t] = -1;
    closed[nClosed++] = t;
    sp = 0;
  }
  // each node's sum down to 0: its parent's (which closed later) plus its own term
  for (let i = nClosed - 1; i >= 0; i--) {
    const n = closed[i] ?? 0;
    const p = up[n] ?? -1;
    if (p >= 0) sum[n] = (sum[n] ?? NaN) + (sum[p] ?? NaN);
  }
  let max = 0;
  for (let v = 0; v < node.length; v++) {
    if ((stat[v] ?? NaN) > 0) {
      out[v] = sum[-(rank[node[v] ?? 0] ?? 0) - 2] ?? NaN;
      // the maximum as stored (float32 maps round), so that it compares exactly with the map
      if ((out[v] ?? NaN) > max) max = out[v] ?? NaN;
    } else out[v] = 0;
  }
  return max;
}
