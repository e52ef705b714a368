/**
 * The one CSV writer for every CSV vbm writes (results tables, labels, permutation clusters).
 * Quoting as RFC 4180: a cell holding a comma, a double quote, CR or LF is enclosed in double
 * quotes, inner quotes doubled. Text cells that a spreadsheet program would run as a formula
 * (starting with =, +, -, @, tab or CR) are neutralised as OWASP advises: prefixed with a single
 * quote and quoted. A cell that is a number (vbm's own -12.5, 1e-5, Inf) stays a number.
 * Lines end with LF. Pure.
 */
export type CsvCell = string | number | null | undefined;

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?Inf$|^NaN$/;
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: numbers as they are, text quoted when needed and neutralised when it could run as a spreadsheet formula. */
export function csvCell(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  let s =
    typeof v === 'number' ? (Number.isNaN(v) ? '' : v === Infinity ? 'Inf' : v === -Infinity ? '-Inf' : String(v)) : v;
  let quote = /[",\r\n]/.test(s);
  if (typeof v === 'string' && FORMULA_START.test(s) && !NUMBER.test(s)) {
    s = `'${s}`;
    quote = true;
  }
  return quote ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of cells to CSV text (header first when given as the first row), ending with a newline. */
export function toCsv(rows: readonly (readonly CsvCell[])[]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}
