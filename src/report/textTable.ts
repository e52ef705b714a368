/** Plain-text table: columns padded to their widest cell; `align` 'r' right-aligns a column. */
export function formatTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (c: string, i: number): string =>
    align?.[i] === 'r' ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]);
  const line = (cells: string[]): string => cells.map(pad).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
