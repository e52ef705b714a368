/**
 * CSV/TSV design sheets: a plain text is split by io/table.ts's simpleCsvRows, anything else by
 * csv-parse. The split must give csv-parse's rows wherever it answers (compared here with
 * csv-parse itself, the other implementation, on generated texts), and readTable the same table
 * either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { tempDir } from './helpers.js';
import { Rng } from '../src/random.js';
import { simpleCsvRows } from '../src/io/table.js';
import { readTable } from '../src/node/spreadsheet.js';

/** csv-parse with node/spreadsheet.ts's options. */
function csvParse(text: string, delimiter: string): string[][] {
  const rows: string[][] = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, trim: true });
  return rows;
}

test('simpleCsvRows gives csv-parse rows on every text it answers, and leaves quotes, padding and blank lines to it', () => {
  const rng = new Rng(15);
  // characters a sheet holds, and the ones that make csv-parse unquote, trim or skip
  const chars = ['a', 'Z', '0', '9', '.', '-', '/', '_', '\u00e9', '#', "'", '\\', ',', ';', '\t', '\n', '\n', ' '];
  const rare = ['"', '\r', '\u00a0', '\f', '\u0000', '\u2003'];
  let answered = 0;
  for (let t = 0; t < 30000; t++) {
    let text = '';
    const len = rng.int(24);
    for (let i = 0; i < len; i++)
      text += rng.uniform() < 0.03 ? rare[rng.int(rare.length)] : chars[rng.int(chars.length)];
    for (const delimiter of [',', ';', '\t']) {
      const rows = simpleCsvRows(text, delimiter);
      if (rows === undefined) continue;
      answered++;
      assert.deepEqual(
        rows,
        csvParse(text, delimiter),
        `${JSON.stringify(text)} split at ${JSON.stringify(delimiter)}`,
      );
    }
  }
  assert.ok(answered > 10000, `most generated texts are plain (${answered})`);
  for (const text of ['a,"b c"\n', 'a, b\n', 'a,b\r\n1,2\r\n', 'a,b\n\n1,2\n', '\na,b', '', ' ', 'a\u00a0,b'])
    assert.equal(simpleCsvRows(text, ','), undefined, JSON.stringify(text));
  assert.deepEqual(simpleCsvRows('scan,age\ns1.nii,30.5\ns2.nii,41\n', ','), [
    ['scan', 'age'],
    ['s1.nii', '30.5'],
    ['s2.nii', '41'],
  ]);
});

test('readTable: the same table from a plain sheet and from the same sheet quoted and padded', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const plain = join(dir, 'plain.csv');
    const padded = join(dir, 'padded.csv');
    writeFileSync(plain, 'scan,age,group\nscans/a.nii,30.5,1\nscans/b.nii,,2\nscans/c.nii,41,\n');
    writeFileSync(padded, '"scan", age ,group\r\n"scans/a.nii",30.5,1\r\n\r\nscans/b.nii,,2\r\nscans/c.nii, 41 ,\r\n');
    const a = await readTable(plain);
    const b = await readTable(padded);
    assert.deepEqual(a.header, ['scan', 'age', 'group']);
    assert.deepEqual(a.rows, [
      ['scans/a.nii', '30.5', '1'],
      ['scans/b.nii', null, '2'],
      ['scans/c.nii', '41', null],
    ]);
    assert.deepEqual(b.header, a.header);
    assert.deepEqual(b.rows, a.rows);
    // the blank line counts in the padded sheet's row numbers (as the user sees them)
    assert.deepEqual(a.rowNumbers, [2, 3, 4]);
    assert.deepEqual(b.rowNumbers, [2, 4, 5]);
    // a semicolon sheet (European export) and a TSV
    writeFileSync(join(dir, 'semi.csv'), 'scan;age\nscans/a.nii;30,5\n');
    assert.deepEqual((await readTable(join(dir, 'semi.csv'))).rows, [['scans/a.nii', '30,5']]);
    writeFileSync(join(dir, 'tab.tsv'), 'scan\tage\nscans/a.nii\t30.5\n');
    assert.deepEqual((await readTable(join(dir, 'tab.tsv'))).rows, [['scans/a.nii', '30.5']]);
  } finally {
    cleanup();
  }
});
