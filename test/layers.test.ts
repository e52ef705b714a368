/**
 * The shells that issue 12 moved out of the core: scan paths are resolved by the caller (the
 * model keeps them as written), and a contrasts file is read by pipeline/ and parsed by model/.
 * Expected paths are written out by hand (POSIX), not produced by the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { repoRoot, tempDir } from './helpers.js';
import { type Table, readTable } from '../src/node/spreadsheet.js';
import { tableFromRows } from '../src/io/table.js';
import { designMatrix } from '../src/model/designMatrix.js';
import { designFromTable, tableScans } from '../src/pipeline/tableDesign.js';
import { parseContrastsText } from '../src/model/contrastsText.js';
import { readContrastsFile } from '../src/pipeline/contrastsFile.js';
import { VbmError } from '../src/errors.js';

const sheet: Table = {
  path: '/study/sheets/design.csv',
  header: ['scan', 'age'],
  rows: [
    ['a.nii', 60],
    ['../raw/b.nii,2', 65],
    ['/data/c.nii', 71],
    ['d.nii.gz', 80],
  ],
  rowNumbers: [2, 3, 4, 5],
};

test(
  'scan paths: the model keeps them as written; the shell resolves them against the spreadsheet folder',
  {
    skip: process.platform === 'win32' ? 'POSIX paths' : false,
  },
  () => {
    const pure = designMatrix(sheet, { covariates: ['age'] });
    assert.deepEqual(pure.scans, ['a.nii', '../raw/b.nii,2', '/data/c.nii', 'd.nii.gz']);
    const resolved = ['/study/sheets/a.nii', '/study/raw/b.nii,2', '/data/c.nii', '/study/sheets/d.nii.gz'];
    assert.deepEqual(tableScans(sheet), resolved);
    const d = designFromTable(sheet, { covariates: ['age'] });
    assert.deepEqual(d.scans, resolved);
    assert.deepEqual(d.scanLabels, pure.scans);
    assert.deepEqual(d.X, pure.X, 'resolving paths changes nothing else');
    assert.throws(
      () =>
        tableScans({
          ...sheet,
          rows: [
            ['a.nii', 1],
            ['', 2],
          ],
        }),
      (e: unknown) => e instanceof VbmError && /row 3, column 'scan': the scan path is empty/.test(e.message),
    );
  },
);

test('contrasts file: read by the shell, parsed by the model; YAML and JSON give the same specs', () => {
  const { dir, cleanup } = tempDir();
  try {
    const spec = [{ name: 'age+', type: 'T', columns: ['age'], weights: [1] }];
    writeFileSync(join(dir, 'c.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'c.yaml'), '- name: age+\n  type: T\n  columns: [age]\n  weights: [1]\n');
    const fromJson = readContrastsFile(join(dir, 'c.json'));
    assert.deepEqual(readContrastsFile(join(dir, 'c.yaml')), fromJson);
    assert.deepEqual(parseContrastsText(JSON.stringify(spec), 'inline', false), fromJson);
    assert.equal(fromJson[0].name, 'age+');
    assert.throws(
      () => readContrastsFile(join(dir, 'none.json')),
      (e: unknown) => e instanceof VbmError && /contrasts file not found/.test(e.message),
    );
    assert.throws(
      () => parseContrastsText('[{', 'bad.json', false),
      (e: unknown) => e instanceof VbmError && /^bad\.json: cannot parse/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

test('spreadsheet rows: the pure half makes a Table (written out by hand); the Node shell reads a file into the same', async () => {
  const rows = [
    [' scan ', 'age', 'male'],
    [null, '', '  '],
    ['a.nii', 61, true],
    ['b.nii', ' 7 ', false],
  ];
  const want: Table = {
    path: 'mem.csv',
    header: ['scan', 'age', 'male'],
    rows: [
      ['a.nii', 61, 1],
      ['b.nii', '7', 0],
    ],
    rowNumbers: [3, 4],
  };
  assert.deepEqual(tableFromRows(rows, 'mem.csv'), want);
  assert.throws(
    () => tableFromRows([['scan', 'age', 'scan']], 'dup.csv'),
    (e: unknown) => e instanceof VbmError && /^dup\.csv: column name 'scan' appears twice/.test(e.message),
  );
  assert.throws(
    () => tableFromRows([[null], ['']], 'blank.csv'),
    (e: unknown) => e instanceof VbmError && /^blank\.csv: the spreadsheet is empty/.test(e.message),
  );
  const { dir, cleanup } = tempDir();
  try {
    // ';'-separated, as European spreadsheets export "CSV"; csv-parse gives text, so numbers stay text
    const path = join(dir, 'd.csv');
    writeFileSync(path, 'scan;age\n\na.nii;61\n');
    assert.deepEqual(await readTable(path), {
      path,
      header: ['scan', 'age'],
      rows: [['a.nii', '61']],
      rowNumbers: [3],
    });
  } finally {
    cleanup();
  }
});

test('every function, class and constant that vbm and vbm/core export has a doc comment where it is declared', () => {
  const entries = ['src/index.ts', 'src/core/index.ts'].map((e) => join(repoRoot, e));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  let seen = 0;
  const missing: string[] = [];
  for (const entry of entries) {
    const file = program.getSourceFile(entry);
    const module = file && checker.getSymbolAtLocation(file);
    assert.ok(module, entry);
    for (const exported of checker.getExportsOfModule(module)) {
      const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decl = s.declarations?.[0];
      if (!decl || !(ts.isFunctionDeclaration(decl) || ts.isClassDeclaration(decl) || ts.isVariableDeclaration(decl)))
        continue; // types and interfaces
      seen++;
      if (!ts.displayPartsToString(s.getDocumentationComment(checker)).trim())
        missing.push(`${exported.name} (${relative(repoRoot, decl.getSourceFile().fileName)})`);
    }
  }
  assert.ok(seen > 150, `${seen} exports checked`);
  assert.deepEqual(missing, [], 'exports without a doc comment');
});
