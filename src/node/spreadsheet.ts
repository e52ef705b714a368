import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { readSheet } from 'read-excel-file/node';
import { VbmError } from '../errors.js';
import { XLSX_MAX_FILE_BYTES, checkZipInflation } from './zipBound.js';

import type { Cell, Table } from '../io/table.js';

export type { Cell, Table } from '../io/table.js';

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

/** Read a .csv, .tsv or .xlsx table with a header row. Blank lines are skipped. */
export async function readTable(path: string): Promise<Table> {
  if (!existsSync(path))
    throw new VbmError(`spreadsheet not found: ${path}`, 'give the path of a .xlsx, .csv or .tsv file');
  const ext = extname(path).toLowerCase();
  let raw: unknown[][];
  if (statSync(path).size > XLSX_MAX_FILE_BYTES) {
    throw new VbmError(
      `${path}: ${statSync(path).size} bytes is too large for a design sheet (at most ${XLSX_MAX_FILE_BYTES / 2 ** 20} MB)`,
      'a design sheet of 100,000 rows is a few MB; export the design alone',
    );
  }
  if (ext === '.xlsx') {
    checkZipInflation(readFileSync(path), path);
    try {
      raw = await readSheet(path);
    } catch (e) {
      throw new VbmError(
        `${path}: cannot read the spreadsheet (${(e as Error).message})`,
        'save it again as .xlsx, or export it as .csv',
      );
    }
  } else if (ext === '.csv' || ext === '.tsv' || ext === '.txt') {
    const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
    const delimiter = ext === '.csv' ? detectCsvDelimiter(text) : '\t';
    try {
      raw = parseCsv(text, { delimiter, relax_column_count: true, skip_empty_lines: false, trim: true });
    } catch (e) {
      throw new VbmError(`${path}: cannot parse as ${ext === '.csv' ? 'CSV' : 'TSV'} (${(e as Error).message})`);
    }
  } else {
    throw new VbmError(`${path}: unsupported spreadsheet type '${ext}'`, 'use .xlsx, .csv or .tsv');
  }
  const numbered = raw
    .map((r, i) => ({ cells: r.map(normaliseCell), line: i + 1 }))
    .filter((r) => r.cells.some((c) => c !== null));
  if (numbered.length === 0)
    throw new VbmError(
      `${path}: the spreadsheet is empty`,
      'the first row must be a header: scan, then covariate names',
    );
  const [head, ...body] = numbered;
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
function detectCsvDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const commas = first.split(',').length;
  const semis = first.split(';').length;
  return semis > commas ? ';' : ',';
}
