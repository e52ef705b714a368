/**
 * Statistic maps on slices and as glass-brain projections (nilearn's plot_stat_map and
 * plot_glass_brain, SPM's section and MIP views). Everything is computed in world mm: each panel
 * is a grid of mm positions, at which the background (trilinear) and the statistic map (nearest
 * voxel, so each voxel keeps its value and its threshold) are read through their own affines.
 */
import { composeFigure, type Figure, LIGHT } from './figure.js';
import { type GlassBrainRequest, type StatMapRequest, glassBrainPanels, statMapPanels } from './panels.js';
import type { PlaneGrid } from './views.js';

// the rasters are pure (panels.ts); these names stay importable from here
export {
  type Display,
  type GlassBrainRequest,
  type StatMapRequest,
  backgroundWindow,
  chooseCuts,
  peakPosition,
  snapToGrid,
} from './panels.js';

/** A drawn figure (RGBA pixels) and the mm grid of each panel, so that tests can read positions back. */
export interface PlotResult extends Figure {
  /** The mm grid of each panel, in the order of `panels`. */
  grids: PlaneGrid[];
}

/** Slices of a statistic map over a background, with a colour bar (PNG). */
export function plotStatMap(req: StatMapRequest): PlotResult {
  const { panels, grids } = statMapPanels(req);
  const fig = composeFigure({ title: req.title, panels, colourBar: { scale: req.scale, label: req.colourBarLabel } });
  return { ...fig, grids };
}

/** Maximum intensity projections in three views (sagittal, coronal, axial), over the projected silhouette of a brain (its edge drawn grey, as nilearn's glass brain). */
export function plotGlassBrain(req: GlassBrainRequest): PlotResult {
  const { panels, grids } = glassBrainPanels(req);
  const fig = composeFigure({
    title: req.title,
    panels,
    colourBar: { scale: req.scale, label: req.colourBarLabel },
    theme: LIGHT,
  });
  return { ...fig, grids };
}
