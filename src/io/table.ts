/**
 * A spreadsheet as plain data, and the rows of a parsed sheet made into one (pure: no file reading;
 * node/spreadsheet.ts reads and parses the files).
 */
import { VbmError } from '../errors.js';

/** One cell: text, a number, or empty. */
export type Cell = string | number | null;

/** A table as read: the header row and the data rows; `rowNumbers[i]` is the row as the user sees it (header = 1). */
export interface Table {
  path: string;
  header: string[];
  rows: Cell[][];
  rowNumbers: number[];
}

function normaliseCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.toISOString();
  // csv-parse gives text, read-excel-file text, numbers, booleans and dates: nothing else reaches here
  if (typeof v !== 'string')
    throw new VbmError(
      `a spreadsheet cell holds a ${typeof v}, not text, a number or a date`,
      'save the sheet again as .xlsx, or export it as .csv',
    );
  const s = v.trim();
  return s === '' ? null : s;
}

/**
 * A parsed sheet's rows (cells as csv-parse or read-excel-file give them) as a Table: cells trimmed
 * (empty ones null, booleans 1/0, dates ISO text), blank lines dropped, the first row the header
 * (every column named, no name twice); `path` names the file in errors.
 */
export function tableFromRows(raw: readonly (readonly unknown[])[], path: string): Table {
  const numbered = raw
    .map((r, i) => ({ cells: r.map(normaliseCell), line: i + 1 }))
    .filter((r) => r.cells.some((c) => c !== null));
  const [head, ...body] = numbered;
  if (head === undefined)
    throw new VbmError(
      `${path}: the spreadsheet is empty`,
      'the first row must be a header: scan, then covariate names',
    );
  const header = head.cells.map((c) => (c === null ? '' : String(c)));
  header.forEach((h, i) => {
    if (h === '')
      throw new VbmError(`${path}: header cell ${i + 1} is empty`, 'give every column a name in the first row');
  });
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h))
      throw new VbmError(`${path}: column name '${h}' appears twice in the header`, 'give each column a unique name');
    seen.add(h);
  }
  return {
    path,
    header,
    rows: body.map((r) => header.map((_, i) => r.cells[i] ?? null)),
    rowNumbers: body.map((r) => r.line),
  };
}

/** European spreadsheets export ';'-separated "CSV": take whichever of ',' ';' splits the header more. */
export function detectCsvDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const commas = first.split(',').length;
  const semis = first.split(';').length;
  return semis > commas ? ';' : ',';
}

/**
 * The rows of a CSV or TSV text with nothing to unquote or trim: no quote, no whitespace but the
 * line breaks (\n) and a tab delimiter, no empty line (a last line break allowed). Such a text's
 * rows are its lines split at the delimiter, which is what csv-parse gives for it with
 * node/spreadsheet.ts's options (test/spreadsheet.test.ts compares the two); undefined for any
 * other text, which csv-parse then reads. A design sheet written by a program usually is one.
 */
export function simpleCsvRows(text: string, delimiter: string): string[][] | undefined {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '' || body.startsWith('\n') || body.includes('\n\n')) return undefined;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    // anything from the control characters to the space, the quote, and every other (Unicode) space
    if (c <= 32 || c === 34 || (c > 126 && /[\s]/.test(body[i] ?? ''))) {
      if (c === 10 || (c === 9 && delimiter === '\t')) continue;
      return undefined;
    }
  }
  return body.split('\n').map((line) => line.split(delimiter));
}
