import { toCsv } from '../io/csv.js';
import { defaultOf } from '../settings/setting.js';
import { ATLAS } from '../settings/vocabulary.js';
import { join } from 'node:path';
import { StagedFiles } from '../node/atomic.js';
import { type Atlas, loadAtlas } from '../atlas/atlas.js';
import { resolveAtlas } from '../atlas/registry.js';
import { type LabelMode, labelClusters, labelExtended, labelPeaks } from '../atlas/label.js';
import { formatTable } from '../report/textTable.js';
import { type ResultsRequest, analysisResults } from './results.js';
import type { Analysis } from './analysis.js';
import { pad } from './outputs.js';

/** Atlas labels asked of an analysis folder: the results thresholds, the atlas, the labelling modes and the sphere radius. */
export interface LabelRequest extends Omit<ResultsRequest, 'atlas'> {
  /** Atlas: a path, a name found by `vbm atlases` (aal, brodmann, harvardoxford, jhu, aicha...), or one already loaded (reused over contrasts). */
  atlas: string | Atlas;
  labels?: string;
  probThreshold?: number;
  modes?: LabelMode[];
  /** Sphere radius for extended labelling, mm. */
  radiusMm?: number;
}

export interface LabelOutput {
  atlas: Atlas;
  files: string[];
  text: string;
  warnings: string[];
}

const f1 = (x: number): string => (Number.isNaN(x) ? '' : x.toFixed(1));
const mm = (v: readonly number[]): string[] => v.map((x) => String(+x.toFixed(2)));

/** Load an atlas given by name or path (the names are looked up where users have atlases). */
export function openAtlas(spec: string, labels?: string, probThreshold?: number): Atlas {
  const entry = resolveAtlas(spec);
  return loadAtlas(entry.image, { labels: labels ?? entry.labels, probThreshold, name: entry.name });
}

/** `vbm label`: atlas labels for a contrast's peaks and clusters, as CSV files and terminal tables. */
export function runLabel(dir: string | Analysis, req: LabelRequest): LabelOutput {
  const { atlas: _spec, ...resultsReq } = req;
  void _spec;
  const res = analysisResults(dir, resultsReq);
  const atlas = typeof req.atlas === 'string' ? openAtlas(req.atlas, req.labels, req.probThreshold) : req.atlas;
  const modes = req.modes ?? ['peaks', 'extended', 'clusters'];
  const radius = req.radiusMm ?? defaultOf(ATLAS.radius);
  const k = pad(res.contrast.index);
  const safe = atlas.name.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const staged = new StagedFiles();
  const files: string[] = [];
  const text: string[] = [`Contrast ${res.contrast.index} '${res.contrast.name}', atlas ${atlas.name} (${atlas.path})`];
  const write = (mode: string, lines: string[][]): void => {
    const name = `labels_${k}_${safe}_${mode}.csv`;
    staged.write(join(res.analysis.dir, name), toCsv(lines));
    files.push(name);
  };
  if (res.table.rows.length === 0) text.push('No voxel survives the thresholds: nothing to label.');
  try {
    if (modes.includes('peaks')) {
      const rows = labelPeaks(atlas, res.table);
      const header = ['cluster', 'peak', 'x_mm', 'y_mm', 'z_mm', res.contrast.type, 'label'];
      const body = rows.map((r) => [String(r.cluster), String(r.peak), ...mm(r.mm), r.stat.toFixed(2), r.label]);
      write('peaks', [header, ...body]);
      text.push('', 'Local maxima labelling', formatTable(header, body));
    }
    if (modes.includes('extended')) {
      const rows = labelExtended(atlas, res.table, radius);
      const header = ['cluster', 'peak', 'x_mm', 'y_mm', 'z_mm', 'label', 'voxels', 'percent'];
      const body = rows.flatMap((r) =>
        r.regions.map((g) => [
          String(r.cluster),
          String(r.peak),
          ...mm(r.mm),
          g.label,
          String(g.voxels),
          f1(g.percent),
        ]),
      );
      write('extended', [header, ...body]);
      text.push('', `Extended local maxima labelling (sphere of ${radius} mm)`, formatTable(header, body));
    }
    if (modes.includes('clusters')) {
      const rows = labelClusters(atlas, res.table, res.stat.dims, res.stat.affine);
      const header = [
        'cluster',
        'cluster_size',
        'x_mm',
        'y_mm',
        'z_mm',
        'label',
        'pct_cluster',
        'cluster_voxels',
        'pct_label',
        'label_voxels',
      ];
      const body = rows.flatMap((r) =>
        r.regions.map((g) => [
          String(r.cluster),
          String(r.size),
          ...mm(r.peakMm),
          g.label,
          f1(g.pctCluster),
          String(g.clusterVoxels),
          f1(g.pctLabel),
          g.label === 'OUTSIDE' ? '' : String(g.labelVoxels),
        ]),
      );
      write('clusters', [header, ...body]);
      text.push(
        '',
        'Cluster labelling (% of the cluster in each region; % of each region in the cluster)',
        formatTable(header, body),
      );
    }
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
  return { atlas, files, text: text.join('\n'), warnings: atlas.warnings };
}
