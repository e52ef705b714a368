/**
 * Small HTML builders for the report. Everything that comes from users' files (column names,
 * contrast names, paths, atlas labels) goes through `esc`; the `Html` type marks strings that
 * are already safe markup, so unescaped text cannot slip in by accident.
 */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export function esc(text: unknown): string {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Markup from a template: interpolated values are escaped unless they are Html (or arrays of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.markup;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return esc(v);
}

/** A table: header cells and rows of cells (text is escaped; Html is kept). */
export function table(header: unknown[], rows: unknown[][], attrs: { id?: string; className?: string } = {}): Html {
  return html`<table${attrs.id ? new Html(` id="${esc(attrs.id)}"`) : ''}${attrs.className ? new Html(` class="${esc(attrs.className)}"`) : ''}><thead><tr>${header.map(
    (h) => html`<th>${h}</th>`,
  )}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
}

/** A PNG embedded in the page as a data URI. */
export function pngImage(png: Uint8Array, alt: string, attrs: { className?: string; width?: number } = {}): Html {
  const b64 = Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
  return new Html(
    `<img src="data:image/png;base64,${b64}" alt="${esc(alt)}"${attrs.className ? ` class="${esc(attrs.className)}"` : ''}${attrs.width ? ` width="${attrs.width}"` : ''}>`,
  );
}

/** JSON for a <script type="application/json"> block: "<" is escaped so no "</script>" can close it early. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
