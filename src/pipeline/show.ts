import type { Analysis } from './analysis.js';
import { formatTable } from '../report/textTable.js';

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
  if (r.commands?.contrasts && r.commands.contrasts !== r.command) out.push(`  contrasts updated by: ${r.commands.contrasts}`);
  out.push('');
  out.push(`Scans: ${r.scans.length}   (design: ${r.design.source})`);
  const shown = opts.allScans ? r.scans : r.scans.slice(0, 3);
  for (const s of shown) out.push(`  ${s.label}${s.volume ? `,${s.volume + 1}` : ''}  ${s.datatype}  sha256 ${s.sha256.slice(0, 12)}`);
  if (!opts.allScans && r.scans.length > 3) out.push(`  ... ${r.scans.length - 3} more (vbm show --scans lists all)`);
  out.push('');
  out.push(`Design: ${r.design.columns.length} columns, rank ${r.design.rank}, df ${r.design.df}`);
  const covByName = new Map(r.design.covariates.map((c) => [c.name, c]));
  out.push(
    indent(
      formatTable(
        ['#', 'column', 'centring', 'mean', 'min', 'max'],
        r.design.columns.map((name, j) => {
          const c = covByName.get(name);
          if (!c) return [String(j + 1), name, 'constant', '', '', ''];
          const mean = c.values.reduce((s, v) => s + v, 0) / c.values.length;
          return [String(j + 1), name, c.centring, fmt(mean), fmt(Math.min(...c.values)), fmt(Math.max(...c.values))];
        }),
      ),
    ),
  );
  if (r.design.collinear.length) out.push(`  collinear: ${r.design.collinear.map((g) => g.join(' ~ ')).join('; ')}`);
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
          r.contrasts.map((c) => [String(c.index), c.name, c.type, fmtWeights(c.weights), `[${c.df.map((d) => fmt(d)).join(', ')}]`, `${c.images.effect} ${c.images.stat}`]),
        ),
      ),
    );
  }
  out.push('');
  out.push(`Images: ${[...r.images.beta, r.images.ResMS, r.images.mask, r.images.RPV].join(' ')}`);
  return out.join('\n');
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
