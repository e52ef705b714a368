/**
 * The report's permutation results for one contrast, when `vbm permute` has written them
 * (perm_000k_*.nii and perm_000k.json in the folder): glass brains of the TFCE, voxel (max
 * statistic) and cluster-extent FWE maps at p < 0.05, each a -log10 p map, and the table of
 * significant clusters, placed beside the random-field results of the same contrast.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Atlas, codeAt, regionName } from '../atlas/atlas.js';
import { readVolume } from '../node/nifti/read.js';
import type { Volume } from '../io/nifti/volume.js';
import type { Box } from '../plot/sampling.js';
import { plotGlassBrain } from '../plot/statMap.js';
import { type Html, html, pngImage, table } from './html.js';

export interface PermutationMapsRequest {
  dir: string;
  contrast: number;
  /** The contrast's perm_000k_* file names (from the pipeline's permutationFileNames): summary, tfceLogPFwe, voxLogPFwe, clustereLogPFwe. */
  files: Record<string, string>;
  /** The views' box, the brain outline and its level (as the random-field glass brains use). */
  box: Box;
  outline: Volume;
  outlineThreshold: number;
  contours?: number;
  atlas?: Atlas;
  alpha?: number;
}

interface Summary {
  permutations: number;
  /** Which p-values are approximated and how (absent in files of older versions). */
  accel?: { note: string };
  scheme: string;
  seed: number;
  clusterDefinition: string;
  clusters: {
    cluster: number;
    voxels: number;
    mass: number | null;
    pFweExtent: number | null;
    pFweMass: number | null;
    peakStat: number;
    peakPFwe: number;
    peakTfcePFwe: number | null;
    mm: number[];
  }[];
}

const MAPS: { key: 'tfceLogPFwe' | 'voxLogPFwe' | 'clustereLogPFwe'; what: string }[] = [
  { key: 'tfceLogPFwe', what: 'TFCE FWE' },
  { key: 'voxLogPFwe', what: 'voxel FWE (max statistic)' },
  { key: 'clustereLogPFwe', what: 'cluster-extent FWE' },
];

const p3 = (p: number | null): string =>
  p === null || Number.isNaN(p) ? '' : p < 0.001 ? p.toExponential(1) : p.toFixed(3);

/** The section, or undefined when the folder holds no permutation results for this contrast. */
export function permutationSection(r: PermutationMapsRequest): Html | undefined {
  const names = r.files;
  const summaryPath = join(r.dir, names.summary);
  if (!existsSync(summaryPath)) return undefined;
  const s = JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary;
  const alpha = r.alpha ?? 0.05;
  const u = -Math.log10(alpha);
  const figures: Html[] = [];
  for (const m of MAPS) {
    const file = join(r.dir, names[m.key]);
    if (!existsSync(file)) continue;
    const v = readVolume(file);
    let top = u;
    for (const x of v.data) if (x > top) top = x;
    const fig = plotGlassBrain({
      stat: v,
      outline: r.outline,
      outlineThreshold: r.outlineThreshold,
      contours: r.contours,
      box: r.box,
      scale: { threshold: u - 1e-9, vmax: Math.max(top, u + 0.5), sign: 'pos' },
      title: `${m.what}: -log10 p, p <= ${alpha} (${s.permutations} permutations)`,
      colourBarLabel: '-log10 p',
    });
    figures.push(
      html`<figure style="max-width:600px">${pngImage(fig.png, `contrast ${r.contrast} ${m.what}`, { className: 'map' })}<figcaption>${m.what} p-values from ${s.permutations} ${s.scheme} (seed ${s.seed}), file <code>${names[m.key]}</code>; coloured where p &lt;= ${alpha}.</figcaption></figure>`,
    );
  }
  const label = (mm: number[]): string => (r.atlas ? regionName(r.atlas, codeAt(r.atlas, mm)) : '');
  const header = [
    'cluster',
    'voxels',
    'mass',
    'p(FWE) extent',
    'p(FWE) mass',
    'peak stat',
    'peak p(FWE)',
    'TFCE p(FWE)',
    'x',
    'y',
    'z',
    ...(r.atlas ? ['label'] : []),
  ];
  const rows = s.clusters.map((c) => [
    c.cluster,
    c.voxels,
    c.mass === null ? '' : c.mass.toFixed(1),
    p3(c.pFweExtent),
    p3(c.pFweMass),
    c.peakStat.toFixed(2),
    p3(c.peakPFwe),
    p3(c.peakTfcePFwe),
    ...c.mm.map((x) => Math.round(x)),
    ...(r.atlas ? [label(c.mm)] : []),
  ]);
  return html`<div class="permutation" id="permutation-${r.contrast}">
  <h4>Permutation inference (${s.permutations} permutations)</h4>
  <div style="display:flex;flex-wrap:wrap;gap:0 1em">${figures}</div>
  ${s.accel ? html`<p class="accel">P-values: ${s.accel.note}</p>` : ''}
  <p>Table: ${s.clusterDefinition}.</p>
  ${rows.length ? table(header, rows, { id: `permutation-table-${r.contrast}`, className: 'results' }) : html`<p class="empty">No cluster is significant by permutation.</p>`}
</div>`;
}
