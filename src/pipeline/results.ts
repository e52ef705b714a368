import { defaultOf } from '../settings/setting.js';
import { EXTRA_MAP_NAMES, RESULTS } from '../settings/vocabulary.js';
import { type CsvCell, toCsv } from '../io/csv.js';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { StagedFiles } from '../node/atomic.js';
import { encodeNifti } from '../node/nifti/write.js';
import { DT } from '../io/nifti/datatypes.js';
import type { Volume } from '../io/nifti/volume.js';
import { type StatType, statTail, zFromTail } from '../inference/distributions.js';
import { type ResultsOptions, type ResultsTable, computeResults } from '../inference/results.js';
import { formatTable } from '../report/textTable.js';
import { type Analysis, openAnalysis } from './analysis.js';
import { type Atlas, codeAt, regionName } from '../atlas/atlas.js';
import { pad } from './outputs.js';
import { type PeakEffects, peakEffects, effectColumns } from './effects.js';
import { partialR, partialR2, signedLogP } from '../inference/effectSize.js';

export type ExtraMap = (typeof EXTRA_MAP_NAMES)[number];
export const EXTRA_MAPS: ExtraMap[] = [...EXTRA_MAP_NAMES];

/** A results table asked of an analysis folder: the contrast, its thresholds, extra maps to write and an atlas to label peaks. */
export interface ResultsRequest extends ResultsOptions {
  /** Contrast number (1-based) or name. */
  contrast: number | string;
  /** Also write uncorrected p, signed -log10 p, Z, and effect-size (d, r for T; R2 for F) maps. */
  maps?: ExtraMap[];
  /** Refuse (VbmError) an effect-size map the contrast has none of, instead of skipping it with a note. */
  strictMaps?: boolean;
  /** Label each peak with this atlas (a name or path) in the table. */
  atlas?: Atlas;
}

/** What `vbm results` produced for one contrast: the table, its text as printed, and the files written. */
export interface ResultsOutput {
  contrast: { index: number; name: string; type: 'T' | 'F' };
  table: ResultsTable;
  files: string[];
  /** The table as SPM lists it, for a terminal. */
  text: string;
  /** Maps asked for that this contrast has none of, and why. */
  notes: string[];
}

const fmtP = (p: number): string => (Number.isNaN(p) ? '' : p.toFixed(3));
const num = (x: number): string =>
  Number.isNaN(x) ? '' : x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : String(+x.toPrecision(10));

/** The CSV of the table: one row per peak; cluster columns on a cluster's first row only. */
export function tableCsv(t: ResultsTable, labels?: string[], effects?: PeakEffects): string {
  const statCol = t.stat === 'F' ? 'peak_F' : 'peak_T';
  const eff = effects ? effectColumns(effects) : [];
  const header = [
    'cluster',
    'set_p',
    'set_c',
    'cluster_p_FWE',
    'cluster_q_FDR',
    'cluster_k',
    'cluster_p_unc',
    'peak_p_FWE',
    'peak_q_FDR',
    statCol,
    'peak_Z',
    'peak_p_unc',
    'peak_q_FDR_voxel',
    ...eff.map((e) => `peak_${e.name}`),
    'x_mm',
    'y_mm',
    'z_mm',
    'i_vox0',
    'j_vox0',
    'k_vox0',
    ...(labels ? ['label'] : []),
  ];
  const lines: CsvCell[][] = [header];
  t.rows.forEach((r, i) => {
    const c = r.first;
    lines.push([
      r.cluster,
      i === 0 ? num(t.set.p) : '',
      i === 0 ? t.set.c : '',
      c ? num(r.clusterPFWE) : '',
      c ? num(r.clusterQFDR) : '',
      c ? r.clusterK : '',
      c ? num(r.clusterPUnc) : '',
      num(r.peakPFWE),
      num(r.peakQFDR),
      num(r.stat),
      num(r.z),
      num(r.peakPUnc),
      num(r.peakQFDRVoxel),
      ...eff.map((e) => num(e.values[i])),
      ...r.mm.map((v) => num(v)),
      ...r.voxel,
      ...(labels ? [labels[i]] : []),
    ]);
  });
  return toCsv(lines);
}

/** SPM's footer lines. */
export function footerLines(t: ResultsTable): string[] {
  const S = t.stat;
  const f = (x: number, d: number): string => (x === Infinity ? 'Inf' : x.toFixed(d));
  return [
    `Height threshold: ${S} = ${t.height.u.toFixed(2)}, p = ${t.height.pUnc.toFixed(3)} (${t.height.pFWE.toFixed(3)})`,
    t.extent.k === 0
      ? 'Extent threshold: k = 0 voxels'
      : `Extent threshold: k = ${t.extent.k} voxels, p = ${t.extent.pUnc.toFixed(3)} (${t.extent.pFWE.toFixed(3)})`,
    `Expected voxels per cluster, <k> = ${t.expectedVoxelsPerCluster.toFixed(3)}`,
    `Expected number of clusters, <c> = ${t.expectedClusters.toFixed(2)}`,
    `FWEp: ${f(t.critical.FWEp, 3)}, FDRp: ${f(t.critical.FDRp, 3)}, FWEc: ${f(t.critical.FWEc, 0)}, FDRc: ${f(t.critical.FDRc, 0)}`,
    `Degrees of freedom = [${t.df[0].toFixed(1)}, ${t.df[1].toFixed(1)}]`,
    `FWHM = ${t.fwhmMm.map((v) => v.toFixed(1)).join(' ')} mm; ${t.fwhmVox.map((v) => v.toFixed(1)).join(' ')} {voxels}`,
    `Volume: ${Math.round(t.volume.mm3)} = ${t.volume.voxels} voxels = ${t.volume.resels.toFixed(1)} resels`,
    `Voxel size: ${t.voxelSizeMm.map((v) => v.toFixed(1)).join(' ')} mm; (resel = ${t.reselSizeVox.toFixed(2)} voxels)`,
  ];
}

export function formatResultsText(
  t: ResultsTable,
  title: string,
  opts: { peaks: number; peakDistance: number },
  labels?: string[],
  effects?: PeakEffects,
): string {
  const eff = effects ? effectColumns(effects) : [];
  const rows = t.rows.map((r, i) => [
    i === 0 ? fmtP(t.set.p) : '',
    i === 0 ? String(t.set.c) : '',
    r.first ? fmtP(r.clusterPFWE) : '',
    r.first ? fmtP(r.clusterQFDR) : '',
    r.first ? String(r.clusterK) : '',
    r.first ? fmtP(r.clusterPUnc) : '',
    fmtP(r.peakPFWE),
    fmtP(r.peakQFDR),
    r.stat.toFixed(2),
    Number.isFinite(r.z) ? r.z.toFixed(2) : 'Inf',
    r.peakPUnc < 0.0005 ? r.peakPUnc.toExponential(1) : fmtP(r.peakPUnc),
    ...eff.map((e) => (Number.isFinite(e.values[i]) ? e.values[i].toFixed(2) : '')),
    r.mm.map((v) => v.toFixed(0).padStart(4)).join(' '),
    ...(labels ? [labels[i]] : []),
  ]);
  const header = [
    'set p',
    'c',
    'clus p(FWE)',
    'q(FDR)',
    'k',
    'p(unc)',
    'peak p(FWE)',
    'q(FDR)',
    t.stat,
    '(Z)',
    'p(unc)',
    ...eff.map((e) => e.name),
    '   x    y    z {mm}',
    ...(labels ? ['label'] : []),
  ];
  const body = t.rows.length
    ? formatTable(
        header,
        rows,
        header.map((_, i) => (i >= 11 + eff.length ? 'l' : 'r')),
      )
    : 'No voxel survives the thresholds.';
  return [
    title,
    '',
    body,
    '',
    `table shows ${opts.peaks} local maxima more than ${opts.peakDistance.toFixed(1)}mm apart`,
    ...footerLines(t),
    ...(effects?.note ? [effects.note] : []),
  ].join('\n');
}

export interface AnalysisResults {
  analysis: Analysis;
  contrast: Analysis['record']['contrasts'][number];
  table: ResultsTable;
  stat: Volume;
  mask: Volume;
  options: { peaks: number; peakDistance: number };
  /** Effect sizes at each peak of the table (r and, for two groups, d for T; partial R2 for F). */
  effects: PeakEffects;
}

/** Threshold a contrast of an analysis folder and build its table, writing nothing. */
export function analysisResults(dirOrAnalysis: string | Analysis, req: ResultsRequest): AnalysisResults {
  const a = typeof dirOrAnalysis === 'string' ? openAnalysis(dirOrAnalysis) : dirOrAnalysis;
  const c = a.contrast(req.contrast);
  const rec = a.record;
  if (!rec.smoothness?.R) {
    throw new VbmError(
      `${a.dir}: the model record has no resel counts (written by an older vbm?)`,
      're-run `vbm run` on this folder to update it',
    );
  }
  const statImg = a.image(c.images.stat);
  const mask = a.image(rec.images.mask);
  if (statImg.dims.join() !== mask.dims.join())
    throw new VbmError(
      `${c.images.stat} and ${rec.images.mask} are on different grids: the folder is inconsistent`,
      're-run `vbm run`',
    );
  const statType: StatType = c.type;
  const options = {
    peaks: req.peaks ?? defaultOf(RESULTS.peaks),
    peakDistance: req.peakDistance ?? defaultOf(RESULTS.peakDistance),
  };
  const table = computeResults(
    statImg.data,
    statType,
    c.df,
    {
      dims: statImg.dims,
      affine: statImg.affine,
      mask: mask.data,
      R: rec.smoothness.R,
      S: rec.smoothness.S,
      fwhmVox: rec.smoothness.FWHM_vox as [number, number, number],
    },
    { ...req, ...options },
  );
  return {
    analysis: a,
    contrast: c,
    table,
    stat: statImg,
    mask,
    options,
    effects: peakEffects(
      rec,
      c,
      table.rows.map((r) => r.stat),
    ),
  };
}

/**
 * `vbm results`: threshold a contrast's statistic map, list clusters and peaks with SPM's
 * p-values, and write the surviving map, its cluster numbers, the table (CSV + JSON) and
 * optional p/Z maps.
 */
export function runResults(dirOrAnalysis: string | Analysis, req: ResultsRequest): ResultsOutput {
  const {
    analysis: a,
    contrast: c,
    table,
    stat: statImg,
    mask,
    options,
    effects,
  } = analysisResults(dirOrAnalysis, req);
  const notes: string[] = [];
  const maps = (req.maps ?? []).filter((m) => {
    const why =
      m === 'd'
        ? c.type !== 'T'
          ? 'd is for T contrasts (use R2 for an F contrast)'
          : effects.d
            ? null
            : `d is defined for a two-group contrast only: ${effects.dReason}`
        : m === 'r'
          ? c.type !== 'T'
            ? 'r is for T contrasts (use R2 for an F contrast)'
            : null
          : m === 'R2'
            ? c.type !== 'F'
              ? 'R2 is for F contrasts (for a T contrast, r^2 is its partial R2)'
              : null
            : null;
    if (why === null) return true;
    const msg = `contrast ${c.index} '${c.name}': no ${m} map: ${why}`;
    if (req.strictMaps)
      throw new VbmError(msg, 'ask for the maps that fit the contrast: d (two groups) or r for T, R2 for F');
    notes.push(msg);
    return false;
  });
  const statType: StatType = c.type;
  const k = pad(c.index);
  const peakLabels = req.atlas
    ? table.rows.map((r) => regionName(req.atlas as Atlas, codeAt(req.atlas as Atlas, r.mm)))
    : undefined;
  const base = c.type === 'T' ? `spmT_${k}` : `spmF_${k}`;
  const staged = new StagedFiles();
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    staged.write(join(a.dir, name), data);
    files.push(name);
  };
  try {
    const n = statImg.data.length;
    const thresh = new Float32Array(n).fill(NaN);
    let nSurvivors = 0;
    for (let i = 0; i < n; i++)
      if (table.survivors[i]) {
        thresh[i] = statImg.data[i];
        nSurvivors++;
      }
    const corrLabel = req.correction === 'none' ? 'unc' : req.correction.toUpperCase();
    // as SPM (spm_write_filtered): when nothing survives the map is written as an empty binary
    // map, uint8 zeros
    put(
      `${base}_thresh.nii`,
      encodeNifti(
        { dims: statImg.dims, affine: statImg.affine, data: nSurvivors ? thresh : new Float32Array(n) },
        {
          ...(nSurvivors ? {} : { datatype: DT.UINT8 }),
          descrip: `SPM{${c.type}} p<${req.threshold} ${corrLabel} k=${req.extent}: ${c.name}`.slice(0, 79),
        },
      ),
    );
    put(
      `${base}_clusters.nii`,
      encodeNifti(
        { dims: statImg.dims, affine: statImg.affine, data: Float32Array.from(table.clusterIndex) },
        { datatype: DT.INT16, descrip: `cluster numbers of table_${k}.csv` },
      ),
    );
    for (const m of maps) {
      const out = new Float32Array(n).fill(NaN);
      const [df1, df2] = c.df;
      for (let i = 0; i < n; i++) {
        if (!(mask.data[i] > 0)) continue;
        const s = statImg.data[i];
        if (m === 'd') out[i] = effects.d!.factor * s;
        else if (m === 'r') out[i] = partialR(s, df2);
        else if (m === 'R2') out[i] = partialR2(s, df1, df2);
        else if (m === 'logp' && statType === 'T') out[i] = signedLogP(s, df2);
        else {
          const p = statTail(statType, s, c.df);
          out[i] = m === 'p' ? p : m === 'logp' ? -Math.log10(p) : zFromTail(p);
        }
      }
      const name = {
        p: `${base}_p.nii`,
        logp: `${base}_mlog10p.nii`,
        z: `${base}_z.nii`,
        d: `${base}_d.nii`,
        r: `${base}_r.nii`,
        R2: `${base}_R2.nii`,
      }[m];
      const what = {
        p: 'uncorrected p',
        logp: statType === 'T' ? 'signed -log10 p' : '-log10 uncorrected p',
        z: 'equivalent Z',
        d: "Cohen's d",
        r: 'partial r = T/sqrt(T^2+df)',
        R2: 'partial R2 = F df1/(F df1+df2)',
      }[m];
      put(
        name,
        encodeNifti(
          { dims: statImg.dims, affine: statImg.affine, data: out },
          { descrip: `${what} of ${c.images.stat}` },
        ),
      );
    }
    put(`table_${k}.csv`, tableCsv(table, peakLabels, effects));
    const { survivors, clusterIndex, ...facts } = table;
    void survivors;
    void clusterIndex;
    put(
      `table_${k}.json`,
      JSON.stringify(
        {
          contrast: { index: c.index, name: c.name, type: c.type, weights: c.weights },
          options: {
            threshold: req.threshold,
            correction: req.correction,
            extent: req.extent,
            ...options,
            atlas: req.atlas ? { name: req.atlas.name, path: req.atlas.path } : null,
          },
          ...facts,
          rows: facts.rows.map((r, i) => ({
            ...r,
            label: peakLabels?.[i],
            ...Object.fromEntries(effectColumns(effects).map((e) => [e.name, e.values[i]])),
          })),
          effectSizes: {
            d: effects.d
              ? { factor: effects.d.factor, groups: effects.d.groups, n: effects.d.n, formula: effects.d.description }
              : null,
            note: effects.note ?? null,
          },
          footer: footerLines(table),
        },
        (_k, v: unknown) => (v === Infinity ? 'Inf' : v === -Infinity ? '-Inf' : Number.isNaN(v) ? null : v),
        1,
      ) + '\n',
    );
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
  const title =
    `Contrast ${c.index} '${c.name}': SPM{${c.type}_[${c.type === 'T' ? c.df[1].toFixed(1) : `${c.df[0].toFixed(1)},${c.df[1].toFixed(1)}`}]}, ` +
    `${req.threshold > 1 ? `${c.type} > ${req.threshold}` : `${req.correction === 'none' ? 'uncorrected' : req.correction.toUpperCase()} p < ${req.threshold}`}, k >= ${req.extent}`;
  const text =
    formatResultsText(table, title, options, peakLabels, effects) + notes.map((m) => `\nnote: ${m}`).join('');
  return { contrast: { index: c.index, name: c.name, type: c.type }, table, files, text, notes };
}
