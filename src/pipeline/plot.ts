/**
 * `vbm plot`: pictures of an analysis folder, written as PNG by Node alone: a contrast's
 * statistic map on slices or as a glass brain, and the design matrix with its contrasts.
 * Thresholds follow `vbm results` (a p-value with a correction, or a statistic value, and an
 * extent), so a picture shows exactly the voxels the table lists.
 */
import { defaultOf, defaultText } from '../settings/setting.js';
import { PICTURE, PLOT } from '../settings/vocabulary.js';
import { VbmError } from '../errors.js';
import type { Correction } from '../inference/results.js';
import { labelClusters } from '../inference/clusters.js';
import { writeFileAtomic } from '../node/atomic.js';
import type { Volume } from '../io/nifti/volume.js';
import { type Analysis, openAnalysis } from './analysis.js';
import { type AnalysisResults, analysisResults } from './results.js';
import { type Sign, type StatScale } from '../plot/colours.js';
import {
  type Display,
  chooseCuts,
  peakPosition,
  plotGlassBrain,
  plotStatMap,
  type PlotResult,
  snapToGrid,
} from '../plot/statMap.js';
import { type Box, worldBox } from '../plot/sampling.js';
import { plotDesignMatrix } from '../plot/designMatrix.js';
import { shippedTemplate } from '../plot/background.js';
import { resolveBackground } from './background.js';
import { AXIS_INDEX, type CutAxis } from '../plot/views.js';
import { applyAffine } from '../io/nifti/affine.js';

export type PlotKind = 'slices' | 'glass' | 'design';

/** The thresholds of a displayed map: height (p or statistic), its correction, extent and the sign shown. */
export interface ThresholdRequest {
  /** A p-value (<= 1) with `correction`, or a statistic value (> 1, with correction 'none'). */
  threshold: number;
  correction: Correction;
  extent: number;
  sign: Sign;
}

/** A picture asked of an analysis folder (`vbm plot`): slices, glass brain or design, thresholds, cuts, background and output file. */
export interface PlotRequest extends Partial<ThresholdRequest> {
  kind?: PlotKind;
  contrast?: number | string;
  display?: Display;
  /** Number of cuts in a row (x/y/z displays). */
  cuts?: number;
  /** Cut positions in mm (x/y/z displays), or [x, y, z] for ortho. */
  coords?: number[];
  /** 'template' (default: ch2bet when installed, else the shipped ICBM152 GM template), 'icbm152', 'mean', 'none', 'ch2bet', or a path. */
  background?: string;
  vmax?: number;
  title?: string;
  out?: string;
  onProgress?: (done: number, total: number) => void;
}

/** A contrast's map as displayed: its values where they pass the thresholds, NaN elsewhere. */
export interface DisplayedMap {
  map: Volume;
  scale: StatScale;
  /** Statistic threshold u and what it stands for. */
  u: number;
  caption: string;
  shownVoxels: number;
  contrast: Analysis['record']['contrasts'][number];
  mask: Volume;
  /** The mm box the pictures span (the analysis mask with 4 mm around it). */
  box: Box;
  /** SPM's results for the same thresholds (the table lists the positive tail). */
  results: AnalysisResults;
}

const DEFAULT_THRESHOLD: ThresholdRequest = { threshold: 0.001, correction: 'none', extent: 0, sign: 'pos' };

/** The thresholds asked for, with `vbm results`' defaults for the rest (p < 0.001 uncorrected, k = 0, positive). */
export function thresholdWithDefaults(t: Partial<ThresholdRequest>): ThresholdRequest {
  return {
    threshold: t.threshold ?? DEFAULT_THRESHOLD.threshold,
    correction: t.correction ?? DEFAULT_THRESHOLD.correction,
    extent: t.extent ?? DEFAULT_THRESHOLD.extent,
    sign: t.sign ?? DEFAULT_THRESHOLD.sign,
  };
}

/** The map a picture shows for a contrast: the statistic thresholded as asked (height, correction, extent, sign), its colour scale and caption. */
export function displayedMap(a: Analysis, contrast: number | string, t: ThresholdRequest, vmax?: number): DisplayedMap {
  const c = a.contrast(contrast);
  if (c.type === 'F' && t.sign !== 'pos')
    throw new VbmError(
      `contrast ${c.index} '${c.name}' is an F contrast: only positive values exist`,
      'use --sign pos (the default) for F maps',
    );
  const res = analysisResults(a, {
    contrast: c.index,
    threshold: t.threshold,
    correction: t.correction,
    extent: t.extent,
  });
  const u = res.table.height.u;
  const stat = res.stat;
  const n = stat.data.length;
  const out = new Float32Array(n).fill(NaN);
  if (t.sign !== 'neg') for (let i = 0; i < n; i++) if (res.table.survivors[i]) out[i] = stat.data[i];
  if (t.sign !== 'pos') {
    // the negative tail at the same height and extent: -stat > u, clusters of at least k voxels
    const neg = new Uint8Array(n);
    for (let i = 0; i < n; i++) neg[i] = res.mask.data[i] > 0 && stat.data[i] < -u ? 1 : 0;
    const cl = labelClusters(neg, stat.dims);
    for (let i = 0; i < n; i++) if (neg[i] && cl.sizes[cl.label[i] - 1] >= t.extent) out[i] = stat.data[i];
  }
  let shown = 0;
  let top = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(out[i])) continue;
    shown++;
    top = Math.max(top, Math.abs(out[i]));
  }
  const scale: StatScale = { threshold: u, vmax: vmax ?? (top > u ? top : u + 1), sign: t.sign };
  const what =
    t.threshold > 1 && t.correction === 'none'
      ? `${c.type} > ${fmt(u)}`
      : `p < ${t.threshold} ${t.correction === 'none' ? 'unc.' : t.correction.toUpperCase()} (${c.type} > ${fmt(u)})`;
  const side = t.sign === 'both' ? ', both signs' : t.sign === 'neg' ? ', negative' : '';
  const caption = `${what}${t.extent > 0 ? `, k >= ${t.extent}` : ''}${side}`;
  return {
    map: { dims: stat.dims, affine: stat.affine, data: out },
    scale,
    u,
    caption,
    shownVoxels: shown,
    contrast: c,
    mask: res.mask,
    box: maskBox(res.mask),
    results: res,
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : String(x);
}

/** The mm box the pictures span: the analysis mask with 4 mm around it. */
export function maskBox(mask: Volume): Box {
  const box = worldBox(mask, (v) => v > 0, 4);
  if (!box) throw new VbmError('the analysis mask is empty', 're-run `vbm run`');
  return box;
}

export interface SlicesRequest {
  display: Display;
  cuts?: number;
  coords?: number[];
  background?: Volume;
  /** Grey window of the background (default: computed from it). */
  backgroundWindow?: [number, number];
  title?: string;
}

/** Slices of a displayed map: cut positions chosen as `vbm plot` does. */
export function drawSlices(d: DisplayedMap, req: SlicesRequest): PlotResult {
  const box = d.box;
  let coords = req.coords;
  if (req.display === 'ortho') {
    if (coords && coords.length !== 3)
      throw new VbmError(`--coords takes x,y,z (three numbers) with --display ortho; got ${coords.length}`);
    if (!coords) {
      const centre = box.map((r) => (r[0] + r[1]) / 2);
      const at = peakPosition(d.map, d.scale) ?? centre;
      coords = (['x', 'y', 'z'] as CutAxis[]).map((ax, i) => snapToGrid(d.map, ax, at[i], at));
    }
  } else if (!coords)
    coords = chooseCuts(
      d.map,
      d.scale,
      box,
      req.display,
      req.cuts ?? defaultOf(PLOT.cuts),
      d.results.table.fwhmMm[AXIS_INDEX[req.display]],
    );
  return plotStatMap({
    stat: d.map,
    background: req.background,
    backgroundWindow: req.backgroundWindow,
    box,
    scale: d.scale,
    display: req.display,
    coords,
    title: req.title,
    colourBarLabel: d.contrast.type,
  });
}

/**
 * Which of the results table's clusters (numbers as listed, 1 = first) each cut of a row passes
 * through: those with a voxel in the cut's plane (a cut is a voxel-centre plane of the grid).
 */
export function clustersOnCuts(d: DisplayedMap, axis: CutAxis, coords: number[]): number[][] {
  const a = AXIS_INDEX[axis];
  const idx = d.results.table.clusterIndex;
  const [nx, ny] = d.map.dims;
  const out: Set<number>[] = coords.map(() => new Set<number>());
  for (let i = 0; i < idx.length; i++) {
    if (!idx[i]) continue;
    const z = applyAffine(d.map.affine, i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny)))[a];
    coords.forEach((c, k) => {
      if (Math.abs(c - z) < 1e-3) out[k].add(idx[i]);
    });
  }
  return out.map((s) => [...s].sort((x, y) => x - y));
}

/** Grey-matter probability above which the shipped template counts as brain in the glass brain's outline. */
export const GLASS_OUTLINE_LEVEL = 0.1;
/** Interior iso-lines of the template's projected grey matter in the glass brain. */
export const GLASS_CONTOURS = 2;

/**
 * Maximum intensity projections over the outline of a real brain: the projected edge of the
 * shipped ICBM152 template (as nilearn draws its glass brain), not the analysis mask. The views
 * span the mask's box and the template's brain, whichever is larger.
 */
export function drawGlassBrain(d: DisplayedMap, title?: string): PlotResult {
  return plotGlassBrain({
    stat: d.map,
    ...glassOutline(d.box),
    scale: d.scale,
    title,
    colourBarLabel: d.contrast.type,
  });
}

/** The glass brain's outline (the shipped template and its level) and the views' box: `box` widened to the template's brain. */
export function glassOutline(box: Box): { outline: Volume; outlineThreshold: number; contours: number; box: Box } {
  const outline = shippedTemplate();
  const brain = worldBox(outline, (v) => v > GLASS_OUTLINE_LEVEL, 4);
  const union = brain ? (box.map((r, i) => [Math.min(r[0], brain[i][0]), Math.max(r[1], brain[i][1])]) as Box) : box;
  return { outline, outlineThreshold: GLASS_OUTLINE_LEVEL, contours: GLASS_CONTOURS, box: union };
}

/** Draw an analysis folder's design matrix (and its contrasts) as SPM's review shows it. */
export function drawDesign(a: Analysis, title = 'Design matrix') {
  const r = a.record;
  return plotDesignMatrix({ columns: r.design.columns, matrix: r.design.matrix, contrasts: r.contrasts, title });
}

/** The PNG `vbm plot` wrote, and how many voxels survived the thresholds. */
export interface PlotOutput {
  file: string;
  kind: PlotKind;
  figure: { width: number; height: number; panels?: PlotResult['panels']; grids?: PlotResult['grids'] };
  shownVoxels?: number;
  caption?: string;
}

/** Draw one picture of an analysis folder and write it (atomically) as PNG. */
export async function runPlot(dirOrAnalysis: string | Analysis, req: PlotRequest): Promise<PlotOutput> {
  const a = typeof dirOrAnalysis === 'string' ? openAnalysis(dirOrAnalysis) : dirOrAnalysis;
  const kind = req.kind ?? 'slices';
  if (kind === 'design') {
    const fig = drawDesign(a, req.title);
    const file = req.out ?? a.path('design.png');
    writeFileAtomic(file, fig.png);
    return { file, kind, figure: { width: fig.width, height: fig.height } };
  }
  if (req.contrast === undefined)
    throw new VbmError(
      'which contrast? give --contrast K (a number or a name)',
      `the contrasts are: ${a.record.contrasts.map((c) => `${c.index} '${c.name}'`).join(', ')}`,
    );
  // both signs of a T map unless told otherwise, as nilearn shows them; an F map has one sign
  const sign = req.sign ?? (a.contrast(req.contrast).type === 'T' ? 'both' : 'pos');
  const d = displayedMap(a, req.contrast, thresholdWithDefaults({ ...req, sign }), req.vmax);
  const k = String(d.contrast.index).padStart(4, '0');
  const title =
    req.title ??
    `${d.contrast.index}: ${d.contrast.name}, ${d.caption}${d.shownVoxels === 0 ? ': no voxel survives' : ''}`;
  let fig: PlotResult;
  if (kind === 'glass') fig = drawGlassBrain(d, title);
  else {
    const bg = await resolveBackground(a, req.background ?? defaultText(PICTURE.background), req.onProgress);
    fig = drawSlices(d, {
      display: req.display ?? 'z',
      cuts: req.cuts,
      coords: req.coords,
      background: bg.volume,
      title,
    });
  }
  const file = req.out ?? a.path(kind === 'glass' ? `glass_${k}.png` : `slices_${k}.png`);
  writeFileAtomic(file, fig.png);
  return {
    file,
    kind,
    figure: { width: fig.width, height: fig.height, panels: fig.panels, grids: fig.grids },
    shownVoxels: d.shownVoxels,
    caption: d.caption,
  };
}
