/**
 * A box of nx x ny x nz voxels numbered brick by brick: 4x4x4 bricks of 64 nodes, x fastest
 * within a brick, then the bricks x fastest. With 4-byte values a 64-byte cache line holds a
 * 4x4 square of one z-slice, so a voxel's 3x3x3 neighbourhood lies on 3 to 12 lines (6.75 on
 * average) instead of the 9 rows of a row-by-row box, and a surface of voxels shares lines
 * with its neighbours. With a bit per node, a brick is two 32-bit words, and a voxel's
 * neighbours are tested a brick at a time with masks that depend only on its place in its
 * brick (64 places).
 */
export class BrickBox {
  /** Bricks along x, y, z. */
  readonly bricks: readonly [number, number, number];
  /** Number of nodes (whole bricks; the ones past nx, ny, nz are never a voxel). */
  readonly nodes: number;

  constructor(nx: number, ny: number, nz: number) {
    this.bricks = [Math.ceil(nx / 4), Math.ceil(ny / 4), Math.ceil(nz / 4)];
    this.nodes = this.bricks[0] * this.bricks[1] * this.bricks[2] * 64;
  }

  /** Node of voxel (x, y, z) of the box (each coordinate >= 0 and within the bricks). */
  index(x: number, y: number, z: number): number {
    const [bx, by] = this.bricks;
    return (((z >> 2) * by + (y >> 2)) * bx + (x >> 2)) * 64 + ((z & 3) << 4) + ((y & 3) << 2) + (x & 3);
  }

  /**
   * Given neighbour steps grouped by brick, as bit masks over the bits of a box with a bit per
   * node (two 32-bit words per brick, places 0-31 then 32-63): for place p, `count[p]` entries
   * from `entries[p * 24]`, each three numbers: the neighbour brick's first word minus the
   * voxel's brick's first word, and the masks of the two words. One to eight entries per place.
   */
  neighbourBricks(steps: readonly (readonly [number, number, number])[]): { entries: Int32Array; count: Uint8Array } {
    const entries = new Int32Array(64 * 24);
    const count = new Uint8Array(64);
    for (let p = 0; p < 64; p++) {
      const x = 4 + (p & 3);
      const y = 4 + ((p >> 2) & 3);
      const z = 4 + (p >> 4);
      const at = this.index(x, y, z);
      const bricks = new Map<number, [number, number]>();
      for (const [dx, dy, dz] of steps) {
        const nn = this.index(x + dx, y + dy, z + dz);
        const dWords = 2 * ((nn >> 6) - (at >> 6));
        const place = nn & 63;
        const m = bricks.get(dWords) ?? [0, 0];
        if (place < 32) m[0] |= 1 << place;
        else m[1] |= 1 << (place - 32);
        bricks.set(dWords, m);
      }
      let e = 0;
      for (const [dWords, [lo, hi]] of bricks) {
        entries.set([dWords, lo, hi], p * 24 + 3 * e++);
      }
      count[p] = e;
    }
    return { entries, count };
  }
}
