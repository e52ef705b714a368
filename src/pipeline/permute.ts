/**
 * vbm permute on an analysis folder: run the permutation test for a contrast and write its maps
 * (NIfTI, with -log10 p), the table of significant clusters (CSV and JSON) and a terminal summary.
 */
import { defaultOf } from '../settings/setting.js';
import { PERMUTE } from '../settings/vocabulary.js';
import { toCsv } from '../io/csv.js';
import { join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { VbmError } from '../errors.js';
import { StagedFiles } from '../node/atomic.js';
import { applyAffine } from '../io/nifti/affine.js';
import { encodeNifti } from '../node/nifti/write.js';
import { formatTable } from '../report/textTable.js';
import { clusterWorkspace, suprathresholdClusters } from '../inference/clusters.js';
import { maskedNeighbours } from '../inference/neighbours.js';
import { type PermutationResult, type PermuteOptions } from '../permutation/permute.js';
import { permuteContrast } from './permuteInput.js';
import { type Analysis, openAnalysis } from './analysis.js';
import { pad } from './outputs.js';
import { clusterTableNote } from './permuteNotes.js';

/** A permutation test asked of an analysis folder: the test settings and the FWE level of the cluster table. */
export interface PermuteRequest extends PermuteOptions {
  /** FWE level for the table of significant clusters (default 0.05). */
  alpha?: number;
}

export interface PermutationCluster {
  cluster: number;
  voxels: number;
  mass: number | null;
  pFweExtent: number | null;
  pFweMass: number | null;
  peakStat: number;
  peakPFwe: number;
  peakTfcePFwe: number | null;
  mm: [number, number, number];
}

/** What `vbm permute` produced: the test result, its significant clusters, the text printed and the files written. */
export interface PermuteOutput {
  result: PermutationResult;
  clusters: PermutationCluster[];
  /** What the table's clusters are. */
  clusterDefinition: string;
  files: string[];
  text: string;
}

export function permutationFileNames(k: number): Record<string, string> {
  const p = `perm_${pad(k)}`;
  return {
    voxP: `${p}_vox_p_unc.nii`,
    voxLogP: `${p}_vox_mlog10p_unc.nii`,
    voxPFwe: `${p}_vox_p_fwe.nii`,
    voxLogPFwe: `${p}_vox_mlog10p_fwe.nii`,
    tfce: `${p}_tfce.nii`,
    tfceP: `${p}_tfce_p_unc.nii`,
    tfceLogP: `${p}_tfce_mlog10p_unc.nii`,
    tfcePFwe: `${p}_tfce_p_fwe.nii`,
    tfceLogPFwe: `${p}_tfce_mlog10p_fwe.nii`,
    clusterePFwe: `${p}_clustere_p_fwe.nii`,
    clustereLogPFwe: `${p}_clustere_mlog10p_fwe.nii`,
    clustermPFwe: `${p}_clusterm_p_fwe.nii`,
    clustermLogPFwe: `${p}_clusterm_mlog10p_fwe.nii`,
    table: `${p}_clusters.csv`,
    summary: `${p}.json`,
    checkpoint: `.${p}.checkpoint`,
  };
}

const r4 = (x: number): string => (Number.isFinite(x) ? String(+x.toPrecision(6)) : String(x));

function significantClusters(r: PermutationResult, alpha: number): { list: PermutationCluster[]; definition: string } {
  const V = r.voxels.length;
  let label: Int32Array;
  let count: number;
  let definition: string;
  if (r.clusters && r.clusterThreshold) {
    label = r.clusters.label;
    count = r.clusters.extent.length;
    definition = `clusters of ${r.contrast.type} > ${r.clusterThreshold.height.toFixed(3)} (p < ${r.clusterThreshold.p} uncorrected) with extent or mass FWE p <= ${alpha}`;
  } else {
    const p = r.tfcePFwe ?? r.pFwe;
    const inSet = new Float32Array(V);
    for (let v = 0; v < V; v++) inSet[v] = p[v] <= alpha ? 1 : 0;
    const nb = maskedNeighbours(r.voxels, r.dims, r.connectivity);
    const cl = suprathresholdClusters(inSet, 0.5, nb, clusterWorkspace(V));
    label = Int32Array.from(cl.label);
    count = cl.extent.length;
    definition = `connected voxels with ${r.tfcePFwe ? 'TFCE' : 'voxel-wise'} FWE p <= ${alpha}`;
  }
  const peak = new Int32Array(count + 1).fill(-1);
  const size = new Int32Array(count + 1);
  const tfceMin = new Float64Array(count + 1).fill(1);
  for (let v = 0; v < V; v++) {
    const c = label[v];
    if (!c) continue;
    size[c]++;
    if (peak[c] < 0 || r.stat[v] > r.stat[peak[c]]) peak[c] = v;
    if (r.tfcePFwe && r.tfcePFwe[v] < tfceMin[c]) tfceMin[c] = r.tfcePFwe[v];
  }
  const list: PermutationCluster[] = [];
  for (let c = 1; c <= count; c++) {
    const v = peak[c];
    const pe = r.clusters ? r.clusters.pExtent[c - 1] : null;
    const pm = r.clusters ? r.clusters.pMass[c - 1] : null;
    if (r.clusters && !((pe ?? 1) <= alpha || (pm ?? 1) <= alpha)) continue;
    const g = r.voxels[v];
    const [nx, ny] = r.dims;
    const i = g % nx;
    const j = Math.floor(g / nx) % ny;
    const k = Math.floor(g / (nx * ny));
    const mm = applyAffine(r.affine, i, j, k).map((x) => Math.round(x * 100) / 100) as [number, number, number];
    list.push({
      cluster: 0,
      voxels: size[c],
      mass: r.clusters ? r.clusters.mass[c - 1] : null,
      pFweExtent: pe,
      pFweMass: pm,
      peakStat: r.stat[v],
      peakPFwe: r.pFwe[v],
      peakTfcePFwe: r.tfcePFwe ? tfceMin[c] : null,
      mm,
    });
  }
  list.sort((a, b) => b.voxels - a.voxels || b.peakStat - a.peakStat);
  list.forEach((c, i) => (c.cluster = i + 1));
  return { list, definition };
}

/** Permutation inference on a contrast of an analysis folder (`vbm permute`): reads the scans once, runs the test, writes the p-value maps and the cluster table. */
export async function runPermute(dir: string | Analysis, req: PermuteRequest): Promise<PermuteOutput> {
  const a = typeof dir === 'string' ? openAnalysis(dir) : dir;
  const con = a.contrast(req.contrast);
  try {
    accessSync(a.dir, constants.W_OK);
  } catch {
    throw new VbmError(
      `cannot write to the analysis folder ${a.dir}`,
      'check its permissions, or copy the folder somewhere writable',
    );
  }
  const names = permutationFileNames(con.index);
  const alpha = req.alpha ?? defaultOf(PERMUTE.alpha);
  const result = await permuteContrast(a, {
    checkpoint: join(a.dir, names.checkpoint),
    ...req,
    accel: req.accel ? { alpha, ...req.accel } : undefined,
  });
  const { list, definition } = significantClusters(result, alpha);
  const [nx, ny, nz] = result.dims;
  const grid = (vals: ArrayLike<number>, outside: number, f: (x: number) => number = (x) => x): Float32Array => {
    const out = new Float32Array(nx * ny * nz).fill(outside);
    for (let v = 0; v < result.voxels.length; v++) out[result.voxels[v]] = f(vals[v]);
    return out;
  };
  const mlog = (p: number): number => -Math.log10(p);
  const staged = new StagedFiles();
  const files: string[] = [];
  const put = (name: string, data: Float32Array, descrip: string): void => {
    staged.write(
      join(a.dir, name),
      encodeNifti({ dims: result.dims, affine: result.affine, data }, { descrip: descrip.slice(0, 79) }),
    );
    files.push(name);
  };
  const N = result.permutations;
  // how each map's p-values were approximated, in its header (descrip), beside the JSON's note
  const acc = result.accel;
  const how = (kind: 'fwe' | 'stat' | 'tfce'): string => {
    const parts: string[] = [];
    if (kind === 'fwe' && acc?.tail) parts.push('GPD tail');
    if (kind === 'fwe' && acc?.gamma) parts.push('gamma');
    if (kind !== 'fwe' && acc?.uncorrected?.[kind]) parts.push('GPD tail');
    if (acc?.stop?.stoppedEarly) parts.push('stopped early');
    return parts.length ? `, ${parts.join(', ')}` : '';
  };
  try {
    put(names.voxP, grid(result.pUnc, NaN), `vbm permute: voxel p unc, ${N} perms${how('stat')}`);
    put(names.voxLogP, grid(result.pUnc, 0, mlog), `vbm permute: voxel -log10 p unc, ${N} perms${how('stat')}`);
    put(names.voxPFwe, grid(result.pFwe, NaN), `vbm permute: voxel p FWE (max stat), ${N} perms${how('fwe')}`);
    put(names.voxLogPFwe, grid(result.pFwe, 0, mlog), `vbm permute: voxel -log10 p FWE, ${N} perms${how('fwe')}`);
    if (result.tfceMap && result.tfcePUnc && result.tfcePFwe) {
      put(
        names.tfce,
        grid(result.tfceMap, 0),
        `vbm permute: TFCE E=${result.tfce?.E} H=${result.tfce?.H} C=${result.connectivity}`,
      );
      put(names.tfceP, grid(result.tfcePUnc, NaN), `vbm permute: TFCE p unc, ${N} perms${how('tfce')}`);
      put(names.tfceLogP, grid(result.tfcePUnc, 0, mlog), `vbm permute: TFCE -log10 p unc, ${N} perms${how('tfce')}`);
      put(names.tfcePFwe, grid(result.tfcePFwe, NaN), `vbm permute: TFCE p FWE, ${N} perms${how('fwe')}`);
      put(names.tfceLogPFwe, grid(result.tfcePFwe, 0, mlog), `vbm permute: TFCE -log10 p FWE, ${N} perms${how('fwe')}`);
    }
    if (result.clusters) {
      const cl = result.clusters;
      const pe = new Float64Array(result.voxels.length).fill(NaN);
      const pm = new Float64Array(result.voxels.length).fill(NaN);
      for (let v = 0; v < pe.length; v++) {
        const c = cl.label[v];
        if (c) {
          pe[v] = cl.pExtent[c - 1];
          pm[v] = cl.pMass[c - 1];
        }
      }
      put(names.clusterePFwe, grid(pe, NaN), `vbm permute: cluster-extent p FWE${how('fwe')}`);
      put(
        names.clustereLogPFwe,
        grid(pe, 0, (p) => (Number.isNaN(p) ? 0 : mlog(p))),
        `vbm permute: cluster-extent -log10 p FWE${how('fwe')}`,
      );
      put(names.clustermPFwe, grid(pm, NaN), `vbm permute: cluster-mass p FWE${how('fwe')}`);
      put(
        names.clustermLogPFwe,
        grid(pm, 0, (p) => (Number.isNaN(p) ? 0 : mlog(p))),
        `vbm permute: cluster-mass -log10 p FWE${how('fwe')}`,
      );
    }
    const header = [
      'cluster',
      'voxels',
      'mass',
      'p_FWE_extent',
      'p_FWE_mass',
      `peak_${result.contrast.type}`,
      'peak_p_FWE',
      'tfce_p_FWE',
      'x_mm',
      'y_mm',
      'z_mm',
    ];
    const rows = list.map((c) =>
      [c.cluster, c.voxels, c.mass, c.pFweExtent, c.pFweMass, c.peakStat, c.peakPFwe, c.peakTfcePFwe, ...c.mm].map(
        (x) => (x === null ? '' : r4(Number(x))),
      ),
    );
    // accelerated runs: a last column saying which of the row's p-values are approximated (permuteNotes.ts)
    const tableNote = clusterTableNote(result.accel, N, { tfce: !!result.tfcePFwe, clusters: !!result.clusters });
    const csvRows = tableNote === null ? rows : rows.map((r) => [...r, tableNote]);
    staged.write(
      join(a.dir, names.table),
      toCsv([tableNote === null ? header : [...header, 'p_approximation'], ...csvRows]),
    );
    files.push(names.table);
    const q = (arr: Float64Array | null, p: number): number | null => {
      if (!arr) return null;
      const s = Float64Array.from(arr).sort();
      return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
    };
    const summary = {
      contrast: result.contrast,
      scheme: result.scheme === 'permute' ? 'Freedman-Lane permutations' : 'sign flips',
      permutations: N,
      exhaustive: result.exhaustive,
      distinct: result.distinct,
      seed: result.seed,
      tfce: result.tfce,
      connectivity: result.connectivity,
      clusterThreshold: result.clusterThreshold,
      alpha,
      criticalFWE: {
        stat: q(result.maxima.stat, 1 - alpha),
        tfce: q(result.maxima.tfce, 1 - alpha),
        extent: q(result.maxima.extent, 1 - alpha),
        mass: q(result.maxima.mass, 1 - alpha),
      },
      clusterDefinition: definition,
      clusters: list,
      files,
      accel: result.accel
        ? {
            note: result.accel.note,
            tail: result.accel.tail,
            stop: result.accel.stop,
            ...(result.accel.gamma ? { gamma: result.accel.gamma } : {}),
            ...(result.accel.uncorrected ? { uncorrected: result.accel.uncorrected } : {}),
          }
        : { note: `every p-value is counted over ${N} rearrangements (no approximation)`, tail: null, stop: null },
      nullMaxima: {
        stat: Array.from(result.maxima.stat),
        tfce: result.maxima.tfce ? Array.from(result.maxima.tfce) : null,
        extent: result.maxima.extent ? Array.from(result.maxima.extent) : null,
        mass: result.maxima.mass ? Array.from(result.maxima.mass) : null,
      },
    };
    staged.write(join(a.dir, names.summary), JSON.stringify(summary, null, 1) + '\n');
    files.push(names.summary);
    staged.commit();
    const c = result.contrast;
    const lines = [
      `Contrast ${c.index} '${c.name}': ${c.type}, df [${c.df.join(', ')}]; ${N} ${result.exhaustive ? '(all) ' : ''}${result.scheme === 'permute' ? 'Freedman-Lane permutations' : 'sign flips'}, seed ${result.seed}${result.varianceGroups ? `; statistic Welch's ${c.type === 'T' ? 'v' : 'G'} with ${result.varianceGroups} variance groups (Winkler et al. 2014)` : ''}`,
      `FWE ${alpha} critical values: ${c.type} = ${r4(summary.criticalFWE.stat ?? NaN)}${summary.criticalFWE.tfce !== null ? `, TFCE = ${r4(summary.criticalFWE.tfce)}` : ''}${summary.criticalFWE.extent !== null ? `, cluster extent = ${summary.criticalFWE.extent} voxels, mass = ${r4(summary.criticalFWE.mass ?? NaN)}` : ''}`,
      ...(result.accel ? [`Accelerated: ${result.accel.note}`] : []),
      `Table: ${definition}`,
      list.length ? formatTable(header, rows) : 'No cluster is significant.',
    ];
    return { result, clusters: list, clusterDefinition: definition, files, text: lines.join('\n') };
  } catch (e) {
    staged.abort();
    throw e;
  }
}
