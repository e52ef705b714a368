/**
 * A box of nx x ny x nz voxels numbered brick by brick: 4x4x4 bricks of 64 nodes, x fastest
 * within a brick, then the bricks x fastest. With 4-byte values a 64-byte cache line holds a
 * 4x4 square of one z-slice, so a voxel's 3x3x3 neighbourhood lies on 3 to 12 lines (6.75 on
 * average) instead of the 9 rows of a row-by-row box, and a surface of voxels shares lines
 * with its neighbours. A neighbour's node is the node plus an offset that depends only on the
 * voxel's place in its brick (64 places).
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
   * Offsets of the given neighbour steps for each place in a brick: entry p * steps.length + q
   * is the q-th neighbour's node minus the node of a voxel at place p (p = node & 63).
   */
  offsets(steps: readonly (readonly [number, number, number])[]): Int32Array {
    const out = new Int32Array(64 * steps.length);
    for (let p = 0; p < 64; p++) {
      // a voxel at place p of an interior brick (brick 1, 1, 1): the offsets do not depend on the brick
      const x = 4 + (p & 3);
      const y = 4 + ((p >> 2) & 3);
      const z = 4 + (p >> 4);
      const at = this.index(x, y, z);
      steps.forEach(([dx, dy, dz], q) => {
        out[p * steps.length + q] = this.index(x + dx, y + dy, z + dz) - at;
      });
    }
    return out;
  }
}
