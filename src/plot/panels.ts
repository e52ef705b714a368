/**
 * The rasters of the pictures (pure: RGBA pixels, no canvas): statistic maps on slices and as glass-brain projections (nilearn's plot_stat_map and
 * plot_glass_brain, SPM's section and MIP views). Everything is computed in world mm: each panel
 * is a grid of mm positions, at which the background (trilinear) and the statistic map (nearest
 * voxel, so each voxel keeps its value and its threshold) are read through their own affines.
 */
import { VbmError, item } from '../errors.js';
import { applyAffine, invertAffine } from '../io/nifti/affine.js';
import { type Volume, grid3 } from '../io/nifti/volume.js';
import { type StatScale, grey, isShown, statColour } from './colours.js';
import { type Box, minVoxelMm, worldBox, worldSampler } from './sampling.js';
import { AXIS_INDEX, type CutAxis, type PlaneGrid, planeGrid, projectPlane, samplePlane, sumPlane } from './views.js';
import { displayedClusters, findCuts, gridPlanes } from './cuts.js';

/** One panel: RGBA pixels and the words above it. */
export interface Panel {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  /** Written above the panel: at its left edge, centre and right edge. */
  header?: { left?: string; centre?: string; right?: string };
}

export type Display = CutAxis | 'ortho';

export interface StatMapRequest {
  /** The map to show; only values beyond the scale's threshold (with its sign) are coloured. */
  stat: Volume;
  background?: Volume;
  /** Background grey window; default: 2nd to 99.5th percentile of its positive values. */
  backgroundWindow?: [number, number];
  /** World box the panels span (mm). */
  box: Box;
  scale: StatScale;
  display: Display;
  /** Cut positions in mm: one per panel for x/y/z, or [x, y, z] for ortho. */
  coords: number[];
  title?: string;
  /** Pixels per mm (default: panels about 220 pixels high). */
  pxPerMm?: number;
  colourBarLabel?: string;
}

/** Grey window of a background: 2nd and 99.5th percentiles of its positive finite values. */
export function backgroundWindow(bg: Volume): [number, number] {
  const d = bg.data;
  const stride = Math.max(1, Math.floor(d.length / 400000));
  const vals: number[] = [];
  for (let i = 0; i < d.length; i += stride) {
    const v = d[i] ?? NaN;
    if (v > 0 && Number.isFinite(v)) vals.push(v);
  }
  if (vals.length === 0) return [0, 1];
  vals.sort((a, b) => a - b);
  const q = (f: number): number =>
    item(vals, Math.min(vals.length - 1, Math.floor(f * (vals.length - 1))), 'background values');
  const lo = q(0.02);
  const hi = q(0.995);
  return hi > lo ? [lo, hi] : [0, hi || 1];
}

function defaultScale(box: Box, axes: CutAxis[]): number {
  const tallest = Math.max(...axes.map((a) => (a === 'z' ? box[1][1] - box[1][0] : box[2][1] - box[2][0])));
  return 220 / tallest;
}

const LEFT_RIGHT: Record<CutAxis, { left?: string; right?: string }> = {
  z: { left: 'L', right: 'R' },
  y: { left: 'L', right: 'R' },
  x: { left: 'P', right: 'A' },
};

/** The three cuts of an ortho display, at [x, y, z] mm. */
function orthoCuts(coords: readonly number[]): { axis: CutAxis; coord: number }[] {
  const [x, y, z] = coords;
  if (x === undefined || y === undefined || z === undefined)
    throw new VbmError(
      `an ortho display cuts at three coordinates [x, y, z] (got ${coords.length})`,
      'give the x, y and z of the cuts in mm',
    );
  return [
    { axis: 'x', coord: x },
    { axis: 'y', coord: y },
    { axis: 'z', coord: z },
  ];
}

/** The panels of slices of a statistic map over a background: RGBA rasters and their mm grids. */
export function statMapPanels(req: StatMapRequest): { panels: Panel[]; grids: PlaneGrid[] } {
  const cuts: { axis: CutAxis; coord: number }[] =
    req.display === 'ortho'
      ? orthoCuts(req.coords)
      : req.coords.map((coord) => ({ axis: req.display as CutAxis, coord }));
  const pxPerMm =
    req.pxPerMm ??
    defaultScale(
      req.box,
      cuts.map((c) => c.axis),
    );
  const stat = worldSampler(req.stat, 'nearest');
  const bg = req.background ? worldSampler(req.background, 'linear') : undefined;
  const [lo, hi] = req.backgroundWindow ?? (req.background ? backgroundWindow(req.background) : [0, 1]);
  const grids: PlaneGrid[] = [];
  const panels: Panel[] = cuts.map(({ axis, coord }, i) => {
    const g = planeGrid(axis, coord, req.box, pxPerMm);
    grids.push(g);
    const s = samplePlane(stat, g);
    const b = bg ? samplePlane(bg, g) : undefined;
    const rgba = new Uint8ClampedArray(g.width * g.height * 4);
    s.forEach((sn, n) => {
      const o = n * 4;
      rgba[o + 3] = 255;
      if (isShown(sn, req.scale)) {
        const c = statColour(sn, req.scale);
        rgba[o] = c[0];
        rgba[o + 1] = c[1];
        rgba[o + 2] = c[2];
      } else {
        // b samples the same grid as s
        const v = b ? grey(b[n] ?? NaN, lo, hi) : 0;
        rgba[o] = v;
        rgba[o + 1] = v;
        rgba[o + 2] = v;
      }
    });
    // a row of cuts of one axis marks the sides on its first panel only, as nilearn does
    const sides = req.display === 'ortho' || i === 0 ? LEFT_RIGHT[axis] : {};
    return { width: g.width, height: g.height, rgba, header: { ...sides, centre: `${axis}=${Math.round(coord)}` } };
  });
  return { panels, grids };
}

export interface GlassBrainRequest {
  stat: Volume;
  /** Outline: voxels above `outlineThreshold` of this image (a brain template, or the analysis mask), projected; its edge is drawn. */
  outline: Volume;
  /** Default 0. */
  outlineThreshold?: number;
  /**
   * Interior lines, as nilearn's glass brain has: this many iso-lines of the outline image's
   * projected sum (its thickness along the ray), drawn light grey (default 0: the edge only).
   */
  contours?: number;
  box: Box;
  scale: StatScale;
  title?: string;
  pxPerMm?: number;
  colourBarLabel?: string;
}

type OutlineProjection = { sil: Float32Array; thick?: Float32Array };
const outlineCache = new WeakMap<Volume, Map<string, OutlineProjection>>();

/** The panels of a glass brain: maximum intensity projections in three views (sagittal, coronal, axial), over the projected silhouette of a brain (its edge drawn grey, as nilearn's glass brain); RGBA rasters and their mm grids. */
export function glassBrainPanels(req: GlassBrainRequest): { panels: Panel[]; grids: PlaneGrid[] } {
  const axes: CutAxis[] = ['x', 'y', 'z'];
  const pxPerMm = req.pxPerMm ?? defaultScale(req.box, axes);
  const scale = req.scale;
  const shown = (v: number): boolean => isShown(v, scale);
  const statSampler = worldSampler(req.stat, 'nearest');
  const onlyShown = (x: number, y: number, z: number): number => {
    const v = statSampler(x, y, z);
    return shown(v) ? v : NaN;
  };
  const outline = worldSampler(req.outline, 'nearest');
  const level = req.outlineThreshold ?? 0;
  const inside = (x: number, y: number, z: number): number => (outline(x, y, z) > level ? 1 : NaN);
  const step = Math.min(minVoxelMm(req.stat.affine), minVoxelMm(req.outline.affine)) / 2;
  // the mm box of the shown voxels (with a voxel's margin): rays that miss it are not traced
  const shownBox = worldBox(req.stat, shown, minVoxelMm(req.stat.affine));
  const rank =
    scale.sign === 'pos' ? (v: number) => v : scale.sign === 'neg' ? (v: number) => -v : (v: number) => Math.abs(v);
  const grids: PlaneGrid[] = [];
  const panels: Panel[] = axes.map((axis) => {
    const g = planeGrid(axis, 0, req.box, pxPerMm);
    grids.push(g);
    const depth = req.box[AXIS_INDEX[axis]];
    const mip = shownBox
      ? projectPlane(onlyShown, g, depth, step, rank, shownBox)
      : new Float32Array(g.width * g.height).fill(NaN);
    const nLines = req.contours ?? 0;
    // the outline's projections depend only on the outline, its level, the view and the step: computed once per process
    const key = `${level}:${nLines}:${axis}:${JSON.stringify(req.box)}:${pxPerMm}:${step}`;
    let cache = outlineCache.get(req.outline);
    if (!cache) outlineCache.set(req.outline, (cache = new Map<string, OutlineProjection>()));
    let proj = cache.get(key);
    if (!proj) {
      proj = {
        sil: projectPlane(inside, g, depth, step, (v) => v),
        thick:
          nLines > 0
            ? sumPlane(worldSampler(req.outline, 'linear'), g, depth, minVoxelMm(req.outline.affine))
            : undefined,
      };
      cache.set(key, proj);
    }
    const { sil, thick } = proj;
    let thickMax = 0;
    if (thick) for (const t of thick) if (t > thickMax) thickMax = t;
    const band = (n: number): number =>
      // n is a pixel of the grid the thickness was projected on
      thick ? Math.min(nLines, Math.floor(((thick[n] ?? NaN) / thickMax) * (nLines + 1))) : 0;
    const rgba = new Uint8ClampedArray(g.width * g.height * 4);
    const isIn = (px: number, py: number): boolean =>
      px >= 0 && py >= 0 && px < g.width && py < g.height && sil[py * g.width + px] === 1;
    for (let py = 0, n = 0; py < g.height; py++)
      for (let px = 0; px < g.width; px++, n++) {
        const o = n * 4;
        rgba[o + 3] = 255;
        let c: [number, number, number];
        const mn = mip[n] ?? NaN; // the projection is on the panel's grid
        if (shown(mn)) c = statColour(mn, scale);
        else if (isIn(px, py)) {
          const edge = !isIn(px - 1, py) || !isIn(px + 1, py) || !isIn(px, py - 1) || !isIn(px, py + 1);
          const b = band(n);
          const line =
            thick !== undefined &&
            b > 0 &&
            ((px > 0 && band(n - 1) < b) ||
              (py > 0 && band(n - g.width) < b) ||
              (px + 1 < g.width && band(n + 1) < b) ||
              (py + 1 < g.height && band(n + g.width) < b));
          c = edge ? [110, 110, 110] : line ? [175, 175, 175] : [232, 232, 232];
        } else c = [255, 255, 255];
        rgba[o] = c[0];
        rgba[o + 1] = c[1];
        rgba[o + 2] = c[2];
      }
    return {
      width: g.width,
      height: g.height,
      rgba,
      header: { ...LEFT_RIGHT[axis], centre: { x: 'sagittal', y: 'coronal', z: 'axial' }[axis] },
    };
  });
  return { panels, grids };
}

/** Snap a mm coordinate along one world axis to the nearest voxel centre of a grid. */
export function snapToGrid(vol: Volume, axis: CutAxis, mm: number, at: readonly number[]): number {
  const a = AXIS_INDEX[axis];
  const p: [number, number, number] = [item(at, 0, 'position'), item(at, 1, 'position'), item(at, 2, 'position')];
  p[a] = mm;
  const v = applyAffine(invertAffine(vol.affine), p[0], p[1], p[2]).map(Math.round) as [number, number, number];
  return applyAffine(vol.affine, v[0], v[1], v[2])[a];
}

/**
 * Cut positions for a row of `n` cuts (src/plot/cuts.ts): through the displayed clusters first,
 * strongest first, then filling the brain's inner extent (the box less 12% at each end, where
 * slices are mostly empty), never two cuts closer than `minSeparationMm` (the smoothness FWHM
 * when known; default two voxels). Each cut is a voxel-centre plane of the statistic grid.
 */
export function chooseCuts(
  stat: Volume,
  scale: StatScale,
  box: Box,
  axis: CutAxis,
  n: number,
  minSeparationMm?: number,
): number[] {
  const a = AXIS_INDEX[axis];
  const [b0, b1] = box[a];
  const clusters = displayedClusters(stat, scale, axis);
  const sep = minSeparationMm ?? 2 * minVoxelMm(stat.affine);
  const planes = gridPlanes(stat, axis, b0 + 0.12 * (b1 - b0), b1 - 0.12 * (b1 - b0));
  return findCuts({ planes, clusters, axis, n, minSeparationMm: sep });
}

/**
 * The mm position of the displayed voxel of largest |value| (for 'pos': largest value). Ties are
 * broken in world space (lowest x, then y, then z), so the storage order of the grid never matters.
 */
export function peakPosition(stat: Volume, scale: StatScale): number[] | undefined {
  let best: [number, number, number] | undefined;
  let bestV = -Infinity;
  const [nx, ny] = grid3(stat.dims);
  for (let i = 0; i < stat.data.length; i++) {
    const v = stat.data[i] ?? NaN; // never shown
    if (!isShown(v, scale)) continue;
    const r = scale.sign === 'pos' ? v : scale.sign === 'neg' ? -v : Math.abs(v);
    if (r < bestV) continue;
    const mm = applyAffine(stat.affine, i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny)));
    if (r > bestV || (best && worldBefore(mm, best))) {
      bestV = r;
      best = mm;
    }
  }
  return best;
}

function worldBefore(a: readonly [number, number, number], b: readonly [number, number, number]): boolean {
  for (const k of [0, 1, 2] as const) if (Math.abs(a[k] - b[k]) > 1e-6) return a[k] < b[k];
  return false;
}
