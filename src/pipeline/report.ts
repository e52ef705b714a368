/**
 * `vbm report`: one self-contained HTML file for an analysis folder: the design (matrix picture,
 * covariates, scans), each contrast with its weights, its map on slices and as a glass brain at
 * the chosen thresholds, SPM's results table (with atlas labels when an atlas is given),
 * smoothness and df, and an interactive NiiVue viewer. Opens from disk: no server, no network.
 */
import { defaultOf, defaultText } from '../settings/setting.js';
import { PICTURE, REPORT } from '../settings/vocabulary.js';
import { designNotes, designTable } from './show.js';
import { statSync } from 'node:fs';
import { VBM_VERSION } from '../node/version.js';
import type { Atlas } from '../atlas/atlas.js';
import { codeAt, regionName } from '../atlas/atlas.js';
import { writeFileAtomic } from '../node/atomic.js';
import { type Analysis, openAnalysis } from './analysis.js';
import { footerLines } from './results.js';
import {
  clustersOnCuts,
  displayedMap,
  drawDesign,
  drawGlassBrain,
  drawSlices,
  glassOutline,
  type ThresholdRequest,
  thresholdWithDefaults,
} from './plot.js';
import { permutationSection } from '../report/permutationSection.js';
import { permutationFileNames } from './permute.js';
import { viewerCopy } from '../plot/background.js';
import { resolveBackground } from './background.js';
import { backgroundWindow, type Display, peakPosition } from '../plot/statMap.js';
import { Html, html, pngImage, table } from '../report/html.js';
import { type ViewerMap, viewerData, viewerSection } from '../report/viewer.js';
import type { ResultsTable } from '../inference/results.js';
import { checkSection } from '../report/checkSection.js';
import { orthogonalitySection } from '../report/orthogonality.js';
import { effectColumns, type PeakEffects } from './effects.js';

/** A report asked of an analysis folder (`vbm report`): contrasts, thresholds, atlas, pictures, viewer and output file. */
export interface ReportRequest extends Partial<ThresholdRequest> {
  /** Contrast numbers or names (default: all). */
  contrasts?: string[];
  atlas?: Atlas;
  display?: Display;
  cuts?: number;
  /** 'template' (default: ch2bet when installed, else the shipped ICBM152 GM template), 'icbm152', 'mean', 'none', 'ch2bet' or a path. */
  background?: string;
  /** Embed the interactive viewer (default true). */
  viewer?: boolean;
  out?: string;
  /** The command line that asked for the report, shown in it. */
  command?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** The HTML file `vbm report` wrote and its size. */
export interface ReportOutput {
  file: string;
  bytes: number;
  contrasts: { index: number; name: string; shownVoxels: number; rows: number }[];
}

const f = (x: number, d = 2): string =>
  Number.isNaN(x) ? '' : x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : x.toFixed(d);
const p3 = (p: number): string => (Number.isNaN(p) ? '' : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

function weightsText(columns: string[], w: number[][]): string {
  return w
    .map((row) =>
      row
        .map((x, j) =>
          x === 0 ? '' : `${x > 0 && x !== 1 ? '+' : ''}${x === 1 ? '+' : x === -1 ? '-' : x}${columns[j]}`,
        )
        .filter(Boolean)
        .join(' '),
    )
    .join('; ');
}

function resultsTableHtml(t: ResultsTable, k: number, labels?: string[], effects?: PeakEffects): Html {
  const eff = effects ? effectColumns(effects) : [];
  const header = [
    'cluster',
    'k',
    'cluster p(FWE)',
    'cluster q(FDR)',
    'cluster p(unc)',
    'peak p(FWE)',
    'peak q(FDR)',
    t.stat,
    'Z',
    'peak p(unc)',
    'x',
    'y',
    'z',
    ...(labels ? ['label'] : []),
    ...eff.map((e) => `peak ${e.name}`),
  ];
  const rows = t.rows.map((r, i) => [
    r.first ? r.cluster : '',
    r.first ? r.clusterK : '',
    r.first ? p3(r.clusterPFWE) : '',
    r.first ? p3(r.clusterQFDR) : '',
    r.first ? p3(r.clusterPUnc) : '',
    p3(r.peakPFWE),
    p3(r.peakQFDR),
    f(r.stat),
    f(r.z),
    p3(r.peakPUnc),
    ...r.mm.map((v) => Math.round(v)),
    ...(labels ? [labels[i]] : []),
    ...eff.map((e) => f(e.values[i])),
  ]);
  return table(header, rows, { id: `results-${k}`, className: 'results' });
}

/** Which table clusters (number, label of its first peak) each cut passes through. */
function cutsHtml(
  cuts: { axis: string; coord: number }[],
  d: ReturnType<typeof displayedMap>,
  labels?: string[],
): Html {
  if (d.results.table.rows.length === 0) return html``;
  const byAxis = cuts.map((g) => clustersOnCuts(d, g.axis as 'x' | 'y' | 'z', [g.coord])[0]);
  const firstRow = new Map<number, number>();
  d.results.table.rows.forEach((row, i) => {
    if (row.first && !firstRow.has(row.cluster)) firstRow.set(row.cluster, i);
  });
  const name = (k: number): string => {
    const i = firstRow.get(k);
    const lab = labels && i !== undefined ? labels[i] : undefined;
    return `cluster ${k} (table row ${(i ?? 0) + 1}${lab ? `, ${lab}` : ''})`;
  };
  const rows = cuts.map((g, i) => [
    `${g.axis} = ${Math.round(g.coord)} mm`,
    byAxis[i].length ? byAxis[i].map(name).join('; ') : 'no cluster of the table',
  ]);
  return table(['cut', 'passes through'], rows, { id: `cuts-${d.contrast.index}`, className: 'cuts' });
}

/** Write one self-contained HTML report of an analysis folder: design, contrasts, pictures, results tables, permutation results and an interactive viewer. */
export async function runReport(dirOrAnalysis: string | Analysis, req: ReportRequest = {}): Promise<ReportOutput> {
  const a = typeof dirOrAnalysis === 'string' ? openAnalysis(dirOrAnalysis) : dirOrAnalysis;
  const r = a.record;
  const t = thresholdWithDefaults(req);
  const chosen = (req.contrasts ?? r.contrasts.map((c) => String(c.index))).map((w) => a.contrast(w));
  const bg = await resolveBackground(a, req.background ?? defaultText(PICTURE.background), (d, n) =>
    req.onProgress?.('mean of the scans', d, n),
  );
  const window = bg.volume ? backgroundWindow(bg.volume) : undefined;
  const design = drawDesign(a, 'Design matrix and contrasts');
  const viewerMaps: ViewerMap[] = [];
  const summaries: ReportOutput['contrasts'] = [];
  const sections: Html[] = [];
  chosen.forEach((c, i) => {
    const sign = c.type === 'F' ? 'pos' : t.sign;
    const d = displayedMap(a, c.index, { ...t, sign });
    const res = d.results;
    const labels = req.atlas
      ? res.table.rows.map((row) => regionName(req.atlas as Atlas, codeAt(req.atlas as Atlas, row.mm)))
      : undefined;
    const title = `${c.index}: ${c.name}, ${d.caption}`;
    const slices = drawSlices(d, {
      display: req.display ?? 'z',
      cuts: req.cuts ?? defaultOf(REPORT.cuts),
      background: bg.volume,
      backgroundWindow: window,
      title,
    });
    const glass = drawGlassBrain(d, title);
    const none = d.shownVoxels === 0;
    const cutList = cutsHtml(
      slices.grids.map((g) => ({ axis: g.axis, coord: g.coord })),
      d,
      labels,
    );
    const perm = permutationSection({
      dir: a.dir,
      contrast: c.index,
      files: permutationFileNames(c.index),
      ...glassOutline(d.box),
      atlas: req.atlas,
    });
    sections.push(html`
<section class="contrast" id="contrast-${c.index}">
  <h3>Contrast ${c.index}: ${c.name} <span class="type">${c.type === 'T' ? `T, df ${f(c.df[1], 1)}` : `F, df [${f(c.df[0], 1)}, ${f(c.df[1], 1)}]`}</span></h3>
  <p>Weights: <code>${weightsText(r.design.columns, c.weights)}</code>. Threshold: ${d.caption}.</p>
  ${none ? html`<p class="empty" id="empty-${c.index}">No voxel survives these thresholds: the maps below show the background only.</p>` : html`<p>${d.shownVoxels} voxels survive.</p>`}
  <figure>${pngImage(slices.png, `contrast ${c.index} on slices`, { className: 'map' })}<figcaption>Slices over ${bg.description}; left on the left (neurological). ${sign === 'pos' && c.type === 'T' ? `One-sided, as SPM shows a T contrast: only positive values of this contrast are coloured (the opposite effect is the contrast with negated weights; vbm plot shows both signs).` : ''} Cuts go through the clusters, strongest first, then fill the brain, at least one FWHM apart.</figcaption></figure>
  ${cutList}
  <figure>${pngImage(glass.png, `contrast ${c.index} glass brain`, { className: 'map' })}<figcaption>Glass brain: maximum intensity projections inside the projected outline of the ICBM152 template.</figcaption></figure>
  <h4>Results table${labels ? html` (labels: ${req.atlas?.name})` : ''}</h4>
  ${res.table.rows.length ? resultsTableHtml(res.table, c.index, labels, res.effects) : html`<p class="empty">No cluster survives the thresholds, so the table is empty.</p>`}
  <pre class="footer">${[...footerLines(res.table), ...(res.effects.note ? [res.effects.note] : [])].join('\n')}</pre>
  ${perm ?? ''}
</section>`);
    viewerMaps.push({
      name: `${c.index}: ${c.name} (${c.type})`,
      type: c.type,
      stat: res.stat,
      threshold: d.u,
      max: d.scale.vmax,
      negative: sign !== 'pos',
      peak: peakPosition(d.map, d.scale),
    });
    summaries.push({ index: c.index, name: c.name, shownVoxels: d.shownVoxels, rows: res.table.rows.length });
    req.onProgress?.('contrasts', i + 1, chosen.length);
  });
  const covariates = r.design.covariates.map((cv) => {
    const v = cv.values;
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, v.length - 1));
    return [cv.name, cv.centring, f(mean, 3), f(sd, 3), f(Math.min(...v), 3), f(Math.max(...v), 3)];
  });
  const sm = r.smoothness;
  const th = r.masking.threshold;
  const viewer =
    req.viewer === false || viewerMaps.length === 0
      ? html``
      : html`<section id="viewer-section"><h2>Interactive viewer</h2>${viewerSection(
          viewerData(
            viewerMaps,
            bg.volume && window ? { volume: viewerCopy(bg.volume), window } : undefined,
            req.atlas,
          ),
        )}</section>`;
  const page = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vbm report: ${a.dir}</title>
<style>${new Html(CSS)}</style></head>
<body>
<header><h1>vbm report</h1>
<p class="meta">Analysis folder <code>${a.dir}</code>, ${r.scans.length} scans, design from <code>${r.design.source}</code>.</p>
<p class="meta">Report made ${new Date().toISOString()} by vbm ${VBM_VERSION}${req.command ? html` with <code>${req.command}</code>` : ''}. Model estimated ${r.created} by vbm ${r.vbmVersion}${r.command ? html` with <code>${r.command}</code>` : ''}.</p>
<nav>${chosen.map((c) => html`<a href="#contrast-${c.index}">${c.index}: ${c.name}</a> `)}</nav>
</header>
<section id="design"><h2>Design</h2>
<figure>${pngImage(design.png, 'design matrix', { className: 'design' })}<figcaption>${r.design.n} scans x ${r.design.columns.length} columns (${r.design.columns.join(', ')}); each column scaled to its range; contrasts above.</figcaption></figure>
<h3>Columns</h3>
<pre class="columns" id="columns">${[designTable(r), ...designNotes(r)].join('\n')}</pre>
<h3>Covariates</h3>
${covariates.length ? table(['covariate', 'centring', 'mean', 'SD', 'min', 'max'], covariates, { id: 'covariates' }) : html`<p>No covariates.</p>`}
<h3>Model</h3>
${table(
  ['', ''],
  [
    ['scans', r.design.n],
    ['columns', r.design.columns.join(', ')],
    ['rank', r.design.rank],
    ['residual df', f(r.design.df, 1)],
    [
      'mask',
      `${r.masking.voxels} voxels; explicit ${r.masking.explicitMask ?? 'none'}; implicit ${r.masking.implicit ? 'on' : 'off'}; threshold ${th.type === 'none' ? 'none' : `${th.type} ${th.value}`}`,
    ],
    ['grid', `${r.grid.dims.join(' x ')} voxels of ${r.grid.voxelSize.map((v) => f(v)).join(' x ')} mm`],
    [
      'smoothness (FWHM)',
      `${sm.FWHM_mm.map((v) => f(v, 1)).join(' ')} mm = ${sm.FWHM_vox.map((v) => f(v, 2)).join(' ')} voxels`,
    ],
    ['resels', `${sm.R.map((v) => f(v, 1)).join(' ')} (R0..R3)`],
  ],
  { id: 'model', className: 'facts' },
)}
${orthogonalitySection({ columns: r.design.columns, matrix: r.design.matrix, contrasts: r.contrasts })}
<h3>Contrasts</h3>
${table(
  ['#', 'name', 'type', 'weights', 'df', 'images'],
  r.contrasts.map((c) => [
    c.index,
    c.name,
    c.type,
    weightsText(r.design.columns, c.weights),
    c.type === 'T' ? f(c.df[1], 1) : `[${f(c.df[0], 1)}, ${f(c.df[1], 1)}]`,
    `${c.images.effect}, ${c.images.stat}`,
  ]),
  { id: 'contrasts' },
)}
<details><summary>Scans (${r.scans.length})</summary><ol class="scans">${r.scans.map((s) => html`<li><code>${s.path}${s.volume ? `,${s.volume + 1}` : ''}</code></li>`)}</ol></details>
</section>
${checkSection(a.dir)}
<section id="maps"><h2>Contrasts and results</h2>
${sections}
</section>
${viewer}
<footer><p>Written by vbm ${VBM_VERSION}. p-values: random field theory (FWE), topological/voxel FDR and uncorrected, as SPM12.</p></footer>
</body></html>
`;
  const file = req.out ?? a.path('report.html');
  writeFileAtomic(file, page.markup);
  return { file, bytes: statSync(file).size, contrasts: summaries };
}

const CSS = `
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 1.5em 3em; color: #1a1a1a; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.meta { color: #555; margin: 0.2em 0; } code { background: #f3f3f3; padding: 0 0.25em; word-break: break-all; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.55em; text-align: right; }
th { background: #f0f0f0; } td:last-child, th:last-child { text-align: left; }
table.facts td { text-align: left; } table.facts thead { display: none; }
figure { margin: 0.8em 0; } figcaption { color: #555; font-size: 0.85em; }
img.map, img.design { max-width: 100%; height: auto; border: 1px solid #ddd; }
.empty { background: #fff4e0; border-left: 4px solid #e0a030; padding: 0.4em 0.8em; }
pre.footer { background: #f7f7f7; padding: 0.5em; font-size: 0.8em; overflow-x: auto; }
.type { font-weight: normal; color: #555; font-size: 0.8em; }
.viewer { background: #111; color: #eee; padding: 0.6em 0.8em; border-radius: 4px; }
.viewer label { color: #eee; } .viewer select { max-width: 22em; }
.viewer canvas { width: 100%; max-width: 900px; height: 340px; background: #000; display: block; }
.controls { display: flex; gap: 1.2em; align-items: center; margin: 0.5em 0; }
.location { font-family: "DejaVu Sans Mono", monospace; min-height: 1.3em; color: #eee; } .status { color: #f88; }
ol.scans { font-size: 0.85em; }
`;
