import { invariant, item } from '../../errors.js';

/**
 * Geometry. A 4x4 affine (row-major, 0-based voxel indices -> mm, as NIfTI and nibabel define
 * it) is the only record of where a voxel is. Left and right are decided by it alone.
 */
export type Affine = number[][];

/** One row of a 4x4 affine. */
type Row4 = [number, number, number, number];

/**
 * The three spatial rows of a 4x4 affine, checked: an affine without them is a bug upstream (the
 * readers always build 4x4), so it throws rather than giving NaN positions. Cheap enough for
 * per-voxel use.
 */
export function affineRows(A: Affine): [Row4, Row4, Row4] {
  const [r0, r1, r2] = A;
  invariant(
    r0 && r1 && r2 && r0.length >= 4 && r1.length >= 4 && r2.length >= 4,
    'an affine has three rows of four entries (and 0 0 0 1)',
  );
  return [r0 as Row4, r1 as Row4, r2 as Row4];
}

/** Entry (r, c) of a 4x4 affine. */
function at(A: Affine, r: number, c: number): number {
  return item(item(A, r, 'affine'), c, 'affine row');
}

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/** Rotation (3x3) from the NIfTI quaternion's b, c, d (a is implied). */
export function quaternionToRotation(b: number, c: number, d: number): number[][] {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Numerically a 180-degree rotation: renormalise (b,c,d) as the NIfTI reference does.
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  return [
    [a * a + b * b - c * c - d * d, 2 * b * c - 2 * a * d, 2 * b * d + 2 * a * c],
    [2 * b * c + 2 * a * d, a * a + c * c - b * b - d * d, 2 * c * d - 2 * a * b],
    [2 * b * d - 2 * a * c, 2 * c * d + 2 * a * b, a * a + d * d - c * c - b * b],
  ];
}

export interface QformFields {
  quatern_b: number;
  quatern_c: number;
  quatern_d: number;
  qoffset_x: number;
  qoffset_y: number;
  qoffset_z: number;
  /** pixdim[0]: -1 flips the third axis; 0 counts as 1. */
  qfac: number;
  pixdim: [number, number, number];
}

export function qformToAffine(q: QformFields): Affine {
  const R = quaternionToRotation(q.quatern_b, q.quatern_c, q.quatern_d);
  const [zx, zy, z] = q.pixdim.map((v) => (v > 0 ? v : 1)) as [number, number, number];
  const zooms = [zx, zy, q.qfac < 0 ? -z : z];
  return [0, 1, 2]
    .map((i) => [
      ...[0, 1, 2].map((j) => at(R, i, j) * item(zooms, j)),
      item([q.qoffset_x, q.qoffset_y, q.qoffset_z], i),
    ])
    .concat([[0, 0, 0, 1]]);
}

/** Inverse of a 4x4 affine (general 3x3 block). */
export function invertAffine(A: Affine): Affine {
  const [[a, b, c, tx], [d, e, f, ty], [g, h, i, tz]] = affineRows(A);
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!Number.isFinite(det) || det === 0) throw new Error('affine is singular');
  const inv: [number, number, number][] = [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
  const row = ([p, q, r]: [number, number, number]): number[] => [p, q, r, -(p * tx + q * ty + r * tz)];
  return [...inv.map(row), [0, 0, 0, 1]];
}

/** The product A B of two 4x4 affines (B applied first). */
export function composeAffines(A: Affine, B: Affine): Affine {
  const out = identityAffine();
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += at(A, i, k) * at(B, k, j);
      item(out, i)[j] = s;
    }
  return out;
}

/** Map a voxel position (x, y, z, 0-based) through a 4x4 affine to world millimetres. */
export function applyAffine(A: Affine, x: number, y: number, z: number): [number, number, number] {
  const [r0, r1, r2] = affineRows(A);
  return [
    r0[0] * x + r0[1] * y + r0[2] * z + r0[3],
    r1[0] * x + r1[1] * y + r1[2] * z + r1[3],
    r2[0] * x + r2[1] * y + r2[2] * z + r2[3],
  ];
}

/** Voxel sizes in mm: the norms of the affine's first three columns. */
export function voxelSizes(A: Affine): [number, number, number] {
  const out: number[] = [];
  for (let j = 0; j < 3; j++) out.push(Math.hypot(at(A, 0, j), at(A, 1, j), at(A, 2, j)));
  return out as [number, number, number];
}

/** Largest absolute difference between two affines' entries. */
export function affineDistance(A: Affine, B: Affine): number {
  let m = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) m = Math.max(m, Math.abs(at(A, i, j) - at(B, i, j)));
  return m;
}

/** Same grid within a tolerance scaled to the voxel size (SPM compares with about 1e-4 mm). */
export function sameGrid(A: Affine, B: Affine, tolMm = 1e-4): boolean {
  return affineDistance(A, B) <= tolMm;
}

/**
 * The NIfTI quaternion representation of an affine (the reference algorithm of nifti1_io's
 * mat44_to_quatern): zooms are column norms; a negative determinant sets qfac = -1 and flips
 * the third column; the rotation's quaternion has a >= 0.
 */
export function affineToQform(A: Affine): QformFields {
  const [r0, r1, r2] = affineRows(A);
  const cols = [0, 1, 2].map((j) => [at(A, 0, j), at(A, 1, j), at(A, 2, j)]);
  const zooms = cols.map((c) => Math.hypot(...c) || 1);
  const R = cols.map((c, j) => c.map((v) => v / item(zooms, j)));
  // R here is column-wise: R[j] is column j. Make it a proper rotation.
  const det =
    at(R, 0, 0) * (at(R, 1, 1) * at(R, 2, 2) - at(R, 2, 1) * at(R, 1, 2)) -
    at(R, 1, 0) * (at(R, 0, 1) * at(R, 2, 2) - at(R, 2, 1) * at(R, 0, 2)) +
    at(R, 2, 0) * (at(R, 0, 1) * at(R, 1, 2) - at(R, 1, 1) * at(R, 0, 2));
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    R[2] = item(R, 2).map((v) => -v);
  }
  // m[r][c] = element at row r, column c
  const m = (r: number, c: number): number => at(R, c, r);
  const trace = m(0, 0) + m(1, 1) + m(2, 2) + 1;
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  if (trace > 0.5) {
    a = 0.5 * Math.sqrt(trace);
    b = (0.25 * (m(2, 1) - m(1, 2))) / a;
    c = (0.25 * (m(0, 2) - m(2, 0))) / a;
    d = (0.25 * (m(1, 0) - m(0, 1))) / a;
  } else {
    const xd = 1 + m(0, 0) - (m(1, 1) + m(2, 2));
    const yd = 1 + m(1, 1) - (m(0, 0) + m(2, 2));
    const zd = 1 + m(2, 2) - (m(0, 0) + m(1, 1));
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (m(0, 1) + m(1, 0))) / b;
      d = (0.25 * (m(0, 2) + m(2, 0))) / b;
      a = (0.25 * (m(2, 1) - m(1, 2))) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (m(0, 1) + m(1, 0))) / c;
      d = (0.25 * (m(1, 2) + m(2, 1))) / c;
      a = (0.25 * (m(0, 2) - m(2, 0))) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (m(0, 2) + m(2, 0))) / d;
      c = (0.25 * (m(1, 2) + m(2, 1))) / d;
      a = (0.25 * (m(1, 0) - m(0, 1))) / d;
    }
    // keep a >= 0 (a itself is not stored: it follows from b, c, d)
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return {
    quatern_b: b,
    quatern_c: c,
    quatern_d: d,
    qoffset_x: r0[3],
    qoffset_y: r1[3],
    qoffset_z: r2[3],
    qfac,
    pixdim: zooms as [number, number, number],
  };
}

/** Orientation code such as 'RAS' or 'LAS': the world direction each voxel axis points to. */
export function axisCodes(A: Affine): string {
  const pos = ['R', 'A', 'S'];
  const neg = ['L', 'P', 'I'];
  let out = '';
  for (let j = 0; j < 3; j++) {
    const col = [at(A, 0, j), at(A, 1, j), at(A, 2, j)];
    let k = 0;
    for (let i = 1; i < 3; i++) if (Math.abs(item(col, i)) > Math.abs(item(col, k))) k = i;
    out += item(col, k) >= 0 ? item(pos, k) : item(neg, k);
  }
  return out;
}
