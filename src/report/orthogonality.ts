/**
 * Design orthogonality as `vbm show` prints it and as the report shows it: the |r| matrix of the
 * centred columns (constant columns left blank) and the warnings for contrasts whose column
 * shares variance with another.
 */
import { columnCorrelations, ORTHOGONALITY_LIMIT, orthogonalityWarnings } from '../model/orthogonality.js';
import type { Matrix } from '../model/linalg.js';
import { formatTable } from './textTable.js';
import { Html, html } from './html.js';

export interface OrthogonalityInput {
  columns: string[];
  matrix: Matrix;
  contrasts: { index: number; name: string; weights: number[][] }[];
}

const cell = (v: number): string => (Number.isNaN(v) ? '' : v.toFixed(2));

export function orthogonalityText(d: OrthogonalityInput): string {
  const C = columnCorrelations(d.matrix);
  const lines = [
    `Orthogonality: |r| between the centred design columns (SPM's Review; constant columns blank; above ${ORTHOGONALITY_LIMIT} shared variance matters)`,
    ...formatTable(
      ['', ...d.columns],
      d.columns.map((c, j) => [c, ...C[j].map(cell)]),
      ['l', ...d.columns.map(() => 'r' as const)],
    )
      .split('\n')
      .map((l) => `  ${l}`),
  ];
  for (const w of orthogonalityWarnings(d.columns, d.matrix, d.contrasts, ORTHOGONALITY_LIMIT, C))
    lines.push(`  warning: ${w.message}`);
  return lines.join('\n');
}

export function orthogonalitySection(d: OrthogonalityInput): Html {
  const C = columnCorrelations(d.matrix);
  const shade = (v: number): string =>
    Number.isNaN(v)
      ? '#ffffff'
      : `rgb(${Math.round(255 - 200 * v)},${Math.round(255 - 200 * v)},${Math.round(255 - 200 * v)})`;
  const warnings = orthogonalityWarnings(d.columns, d.matrix, d.contrasts, ORTHOGONALITY_LIMIT, C);
  return html`<h3>Design orthogonality</h3>
<p>|r| between the centred columns (SPM's Review picture as a table: white 0 = orthogonal, dark 1 = collinear; the constant column has no direction and is blank).</p>
<table id="orthogonality"><thead><tr><th></th>${d.columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>${d.columns.map(
    (c, j) =>
      html`<tr><th>${c}</th>${C[j].map((v) => html`<td style="${new Html(`background:${shade(v)};color:${v > 0.6 ? '#fff' : '#000'}`)}">${cell(v)}</td>`)}</tr>`,
  )}</tbody></table>
${warnings.length ? html`<ul class="warnings">${warnings.map((w) => html`<li class="empty">${w.message}</li>`)}</ul>` : html`<p>No contrast's column correlates with another column above ${ORTHOGONALITY_LIMIT}.</p>`}`;
}
