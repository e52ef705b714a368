import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { VbmError } from '../errors.js';
import { XLSX_MAX_FILE_BYTES, checkZipInflation } from './zipBound.js';

import { type Table, detectCsvDelimiter, simpleCsvRows, tableFromRows } from '../io/table.js';

export type { Cell, Table } from '../io/table.js';

/**
 * Read a .csv, .tsv or .xlsx table with a header row. Blank lines are skipped. The file is read and
 * parsed here; the rows become a Table (cells, header checks) in io/table.ts.
 */
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
      // loaded only for .xlsx (its ~65 modules cost every other command's start)
      const { readSheet } = await import('read-excel-file/node');
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
      // a plain text is split here; csv-parse (loaded only then) reads quotes, padding and blank lines
      raw =
        simpleCsvRows(text, delimiter) ??
        (await import('csv-parse/sync')).parse(text, {
          delimiter,
          relax_column_count: true,
          skip_empty_lines: false,
          trim: true,
        });
    } catch (e) {
      throw new VbmError(`${path}: cannot parse as ${ext === '.csv' ? 'CSV' : 'TSV'} (${(e as Error).message})`);
    }
  } else {
    throw new VbmError(`${path}: unsupported spreadsheet type '${ext}'`, 'use .xlsx, .csv or .tsv');
  }
  return tableFromRows(raw, path);
}
