import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Analysis } from './analysis.js';
import type { ModelRecord } from './modelRecord.js';
import type { ColumnInfo } from '../model/designMatrix.js';
import { formatTable } from '../report/textTable.js';
import type { NonSphericity } from '../estimation/nonSphericity.js';
import { orthogonalityText } from '../report/orthogonality.js';

function fmtWeights(w: number[][]): string {
  const row = (r: number[]): string => r.map((x) => (Number.isInteger(x) ? String(x) : x.toPrecision(3))).join(' ');
  return w.length === 1 ? `[${row(w[0])}]` : `[${w.map(row).join('; ')}]`;
}

/** What `vbm show` prints: scans, design, masking, smoothness, contrasts and images of an analysis. */
export function describeAnalysis(a: Analysis, opts: { allScans?: boolean } = {}): string {
  const r = a.record;
  const out: string[] = [];
  out.push(`vbm analysis ${a.dir}`);
  out.push(`  made by vbm ${r.vbmVersion} on ${r.created}${r.command ? `\n  command: ${r.command}` : ''}`);
  if (r.commands?.contrasts && r.commands.contrasts !== r.command)
    out.push(`  contrasts updated by: ${r.commands.contrasts}`);
  out.push('');
  out.push(`Scans: ${r.scans.length}   (design: ${r.design.source})`);
  const shown = opts.allScans ? r.scans : r.scans.slice(0, 3);
  for (const s of shown)
    out.push(
      `  ${s.row !== undefined ? `row ${s.row}: ` : ''}${s.label}${s.volume ? `,${s.volume + 1}` : ''}  ${s.datatype}  ${s.hash.length === 64 ? 'sha256' : 'xxh3'} ${s.hash.slice(0, 12)}`,
    );
  if (!opts.allScans && r.scans.length > 3) out.push(`  ... ${r.scans.length - 3} more (vbm show --scans lists all)`);
  out.push('');
  out.push(
    `Design: ${r.design.columns.length} columns, rank ${r.design.rank}, df ${r.design.df} (${(r.design.model ?? 'multiple_regression').replace('_', ' ')})`,
  );
  out.push(indent(designTable(r)));
  for (const line of designNotes(r)) out.push(`  ${line}`);
  if (r.design.collinear.length) out.push(`  collinear: ${r.design.collinear.map((g) => g.join(' ~ ')).join('; ')}`);
  if (r.nonSphericity) out.push(...describeNonSphericity(r.nonSphericity));
  out.push('', orthogonalityText({ columns: r.design.columns, matrix: r.design.matrix, contrasts: r.contrasts }));
  out.push('');
  const th = r.masking.threshold;
  out.push(
    `Mask: ${r.masking.voxels} voxels; explicit ${r.masking.explicitMask ?? 'none'}; implicit ${r.masking.implicit ? 'on' : 'off'}; ` +
      `threshold ${th.type === 'none' ? 'none' : `${th.type} ${th.value}`}`,
  );
  out.push(
    `Grid: ${r.grid.dims.join('x')} voxels of ${r.grid.voxelSize.map((v) => fmt(v)).join('x')} mm; ` +
      `smoothness FWHM ${r.smoothness.FWHM_mm.map((v) => v.toFixed(1)).join(' ')} mm`,
  );
  out.push('');
  if (r.contrasts.length === 0) out.push('Contrasts: none');
  else {
    out.push('Contrasts:');
    out.push(
      indent(
        formatTable(
          ['#', 'name', 'type', 'weights', 'df', 'images'],
          r.contrasts.map((c) => [
            String(c.index),
            c.name,
            c.type,
            fmtWeights(c.weights),
            `[${c.df.map((d) => fmt(d)).join(', ')}]`,
            `${c.images.effect} ${c.images.stat}`,
          ]),
        ),
      ),
    );
  }
  out.push('');
  out.push(`Images: ${[...r.images.beta, r.images.ResMS, r.images.mask, r.images.RPV].join(' ')}`);
  return out.join('\n');
}

/** One row per design column: vbm's and SPM's name, SPM's partition, how it was made, its centring and values. */
export function designTable(r: ModelRecord): string {
  const covByName = new Map(r.design.covariates.map((c) => [c.name, c]));
  const info = r.design.columnInfo;
  return formatTable(
    ['#', 'column', 'SPM name', 'role', 'made from', 'centring', 'mean', 'min', 'max'],
    r.design.columns.map((name, j) => {
      const ci = info?.[j];
      const c = ci?.kind === 'covariate' || (!ci && name !== 'mean') ? covByName.get(ci?.source ?? name) : undefined;
      const stats = c
        ? [
            fmt(c.values.reduce((s, v) => s + v, 0) / c.values.length),
            fmt(Math.min(...c.values)),
            fmt(Math.max(...c.values)),
          ]
        : ['', '', ''];
      const centring =
        ci?.centring === 'factor'
          ? `within ${ci.kind === 'interaction' ? ci.factor : 'levels'}`
          : (ci?.centring ?? c?.centring ?? '');
      return [
        String(j + 1),
        name,
        ci?.spmName ?? (ci ? '-' : name),
        r.design.roles?.[j] ?? (name === 'mean' ? 'H' : 'C'),
        ci ? madeFrom(ci) : name === 'mean' ? 'constant' : name,
        centring,
        ...stats,
      ];
    }),
  );
}

function madeFrom(ci: ColumnInfo): string {
  switch (ci.kind) {
    case 'intercept':
      return 'constant';
    case 'level':
    case 'subject':
      return `${ci.factor} = ${ci.level}`;
    case 'coded':
      return `${ci.source} = ${ci.level} (0/1 against ${ci.source}'s first level)`;
    case 'interaction':
      return `${ci.source} x (${ci.factor} = ${ci.level})`;
    case 'global':
      return `global (${ci.source}), scaled, minus its mean`;
    default:
      return ci.source ?? ci.name;
  }
}

/** Factors, variance components and globals, one line each. */
export function designNotes(r: ModelRecord): string[] {
  const out: string[] = [];
  for (const f of r.design.factors ?? []) {
    const levels =
      f.levels.length > 8 ? `${f.levels.length} levels` : f.levels.map((l, i) => `${l} (${f.counts[i]})`).join(', ');
    out.push(`factor ${f.name} (${f.use}): ${levels}`);
  }
  if (r.design.variance)
    out.push(
      `variance: ${r.design.variance}${r.design.variance === 'unequal' ? ' (one variance component per level, estimated by ReML)' : ' (one component, i.i.d.)'}`,
    );
  const g = r.design.globals;
  if (g) {
    const range = (v: number[]): string => (v.length ? `${fmt(Math.min(...v))}..${fmt(Math.max(...v))}` : '');
    out.push(
      `globals: ${g.calculation}${g.values ? ` (column ${g.values})` : ''} ${range(g.raw)}; grand mean ${g.GM ? fmt(g.GM) : 'not scaled'}; ` +
        `normalisation ${g.normalisation}; gSF ${range(g.gSF)}${g.centre !== null ? `; ANCOVA centre ${fmt(g.centre)}` : ''}`,
    );
  }
  if (r.design.rows && r.design.rows.some((row, i) => i > 0 && row < r.design.rows![i - 1]))
    out.push(
      "scans in SPM's order (level by level, or pair by pair); `vbm show --scans` lists each with its spreadsheet row",
    );
  return out;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** The variance components, ReML's hyperparameters and the whitening, one line each. */
function describeNonSphericity(ns: NonSphericity): string[] {
  const perGroup = Array.from({ length: ns.nComponents }, (_, g) => ns.groups.indexOf(g));
  const list = (v: number[]): string => perGroup.map((i) => (i >= 0 ? v[i].toPrecision(6) : '-')).join(', ');
  const size = perGroup.map((_, g) => ns.groups.filter((x) => x === g).length);
  return [
    `Non-sphericity: ${ns.form}, one per variance group (scans per group ${size.join(', ')})`,
    `  ReML over ${ns.voxelsPooled} voxels with effects-of-interest F > ${ns.UF.toPrecision(5)} (p < ${ns.UFp}, df [${ns.Fdf.join(', ')}]), ${ns.iterations} iterations`,
    `  h = ${ns.h.map((v) => v.toPrecision(6)).join(', ')}`,
    `  V (trace n) per group = ${list(ns.V)};  W = V^-1/2 per group = ${list(ns.W)}`,
    `  whitened model: erdf ${ns.erdf.toFixed(2)}, trRV ${ns.trRV.toFixed(4)}, trRVRV ${ns.trRVRV.toFixed(4)}`,
  ];
}

/**
 * The analysis folders under `dir` that `vbm show` reviews: `dir` itself when it holds a model,
 * else its subfolders that do (one per model of an analysis file with several), sorted; none when
 * nothing is there yet.
 */
export function modelFolders(dir: string): string[] {
  if (existsSync(join(dir, 'model.json'))) return [dir];
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((d) => join(dir, d))
    .filter((d) => existsSync(join(d, 'model.json')))
    .sort();
}

/** The images, tables and records in an analysis folder (.nii, .csv, .json; no hidden files), sorted. */
export function analysisFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(nii|csv|json)$/.test(f) && !f.startsWith('.'))
    .sort();
}
