/**
 * Display planes and their pixel grids. Pictures follow the neurological convention of nilearn
 * and SPM's section views: the subject's left on the left of axial and coronal views, anterior
 * at the top of axial views and on the right of sagittal ones, superior at the top.
 */
import type { Box, WorldSampler } from './sampling.js';

/** The world axis a cut is perpendicular to: x sagittal, y coronal, z axial. */
export type CutAxis = 'x' | 'y' | 'z';

/** A world axis: 0 x, 1 y, 2 z (an index into a point or a Box that is never out of range). */
export type WorldAxis = 0 | 1 | 2;

/** A world (mm) position [x, y, z]. */
type Point = [number, number, number];

export const AXIS_INDEX: Record<CutAxis, WorldAxis> = { x: 0, y: 1, z: 2 };

/** World axes running left-to-right (u) and bottom-to-top (v) on screen for each cut axis. */
export const PLANE_AXES: Record<CutAxis, [WorldAxis, WorldAxis]> = { z: [0, 1], y: [0, 2], x: [1, 2] };

/** A panel's pixels and the mm positions they show. */
export interface PlaneGrid {
  axis: CutAxis;
  /** mm coordinate of the cut along `axis` (for projections: unused). */
  coord: number;
  /** Box the panel spans: [min, max] mm along the screen's u (rightwards) and v (upwards) axes. */
  u: [number, number];
  v: [number, number];
  pxPerMm: number;
  width: number;
  height: number;
}

/** The pixel grid of a panel cutting `box` at `coord` mm along `axis`, at `pxPerMm`. */
export function planeGrid(axis: CutAxis, coord: number, box: Box, pxPerMm: number): PlaneGrid {
  const [ua, va] = PLANE_AXES[axis];
  const u = box[ua];
  const v = box[va];
  return {
    axis,
    coord,
    u,
    v,
    pxPerMm,
    width: Math.max(1, Math.round((u[1] - u[0]) * pxPerMm)),
    height: Math.max(1, Math.round((v[1] - v[0]) * pxPerMm)),
  };
}

/** The mm position of a pixel's centre: [x, y, z], with the cut axis at `coord`. */
export function pixelToWorld(g: PlaneGrid, px: number, py: number, out: Point = [0, 0, 0]): Point {
  const [ua, va] = PLANE_AXES[g.axis];
  out[AXIS_INDEX[g.axis]] = g.coord;
  out[ua] = g.u[0] + (px + 0.5) / g.pxPerMm;
  out[va] = g.v[1] - (py + 0.5) / g.pxPerMm;
  return out;
}

/** An image's values on a cut. */
export function samplePlane(sample: WorldSampler, g: PlaneGrid): Float32Array {
  const out = new Float32Array(g.width * g.height);
  const p: Point = [0, 0, 0];
  for (let py = 0, n = 0; py < g.height; py++)
    for (let px = 0; px < g.width; px++, n++) {
      pixelToWorld(g, px, py, p);
      out[n] = sample(p[0], p[1], p[2]);
    }
  return out;
}

/**
 * A maximum intensity projection along the cut axis: for each pixel, the value of largest
 * `rank(value)` met along the ray through [depth[0], depth[1]] mm in steps of `stepMm`
 * (NaN when the ray meets only NaN).
 */
export function projectPlane(
  sample: WorldSampler,
  g: PlaneGrid,
  depth: [number, number],
  stepMm: number,
  rank: (v: number) => number,
  within?: Box,
): Float32Array {
  const out = new Float32Array(g.width * g.height).fill(NaN);
  const a = AXIS_INDEX[g.axis];
  const [ua, va] = PLANE_AXES[g.axis];
  const p: Point = [0, 0, 0];
  const steps = Math.max(1, Math.ceil((depth[1] - depth[0]) / stepMm));
  // rays that miss `within` (where every non-NaN value lies) are NaN; the others sample only their steps inside it
  const s0 = within ? Math.max(0, Math.floor((within[a][0] - depth[0]) / stepMm)) : 0;
  const s1 = within ? Math.min(steps, Math.ceil((within[a][1] - depth[0]) / stepMm)) : steps;
  for (let py = 0, n = 0; py < g.height; py++)
    for (let px = 0; px < g.width; px++, n++) {
      pixelToWorld(g, px, py, p);
      if (within && (p[ua] < within[ua][0] || p[ua] > within[ua][1] || p[va] < within[va][0] || p[va] > within[va][1]))
        continue;
      let best = NaN;
      let bestRank = -Infinity;
      for (let s = s0; s <= s1; s++) {
        p[a] = depth[0] + s * stepMm;
        const v = sample(p[0], p[1], p[2]);
        if (Number.isNaN(v)) continue;
        const r = rank(v);
        if (r > bestRank) {
          bestRank = r;
          best = v;
        }
      }
      out[n] = best;
    }
  return out;
}

/** The sum of an image's finite values along the cut axis through [depth[0], depth[1]] mm, in steps of `stepMm`, times the step (a projected thickness, mm). */
export function sumPlane(sample: WorldSampler, g: PlaneGrid, depth: [number, number], stepMm: number): Float32Array {
  const out = new Float32Array(g.width * g.height);
  const a = AXIS_INDEX[g.axis];
  const p: Point = [0, 0, 0];
  const steps = Math.max(1, Math.ceil((depth[1] - depth[0]) / stepMm));
  for (let py = 0, n = 0; py < g.height; py++)
    for (let px = 0; px < g.width; px++, n++) {
      pixelToWorld(g, px, py, p);
      let s = 0;
      for (let k = 0; k <= steps; k++) {
        p[a] = depth[0] + k * stepMm;
        const v = sample(p[0], p[1], p[2]);
        if (Number.isFinite(v)) s += v;
      }
      out[n] = s * stepMm;
    }
  return out;
}
