import { existsSync, readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { VbmError } from '../errors.js';
import { type LabelTable, labelTableFromRows, parseLabelText } from './labelText.js';

// the parsing is pure (labelText.ts); the type stays importable from here
export type { LabelTable } from './labelText.js';

/**
 * Read a label table:
 * - CSV or TSV with columns index,name (a header row is optional);
 * - mricron's `.txt` (`index name [other]`, whitespace-separated, as in aal.nii.txt);
 * - FSL's atlas XML (`<label index="0" ...>Name</label>`).
 */
export function readLabelTable(path: string): LabelTable {
  if (!existsSync(path)) throw new VbmError(`label table not found: ${path}`);
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  const delim = /\.csv$/i.test(path) ? ',' : /\.tsv$/i.test(path) ? '\t' : null;
  if (!delim || /^\s*<\?xml|<atlas/i.test(text)) return parseLabelText(text, path);
  const rows: string[][] = parseCsv(text, {
    delimiter: delim,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
  });
  return labelTableFromRows(rows, path, delim === ',' ? 'csv' : 'tsv');
}
