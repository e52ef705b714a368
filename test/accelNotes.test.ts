/**
 * Every output of `vbm permute --accel tail` says which p-values are approximated: the map headers
 * (NIfTI descrip), the cluster table (its last column, p_approximation), the JSON summary, the
 * terminal text and the HTML report; an exact run of the same study carries no such note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { fitAgeModel, smallStudy, writeStudy } from './support/study.js';
import { permutationFileNames, runPermute } from '../src/pipeline/permute.js';
import { runReport } from '../src/pipeline/report.js';
import { clusterTableNote } from '../src/pipeline/permuteNotes.js';

/** The NIfTI-1 header's descrip field (80 bytes at offset 148), as a viewer shows it. */
const descrip = (file: string): string =>
  readFileSync(file).subarray(148, 228).toString('latin1').replace(/\0.*$/s, '');

/** The permutation section of the folder's HTML report. */
async function reportSection(out: string): Promise<string> {
  const page = readFileSync((await runReport(out, { viewer: false })).file, 'utf8');
  const at = page.indexOf('id="permutation-1"');
  assert.ok(at >= 0, 'the report has a permutation section');
  return page.slice(at, page.indexOf('</section>', at));
}

test('vbm permute --accel tail: every output file, the text and the report say which p-values are approximated; an exact run none', async () => {
  const { dir, cleanup } = tempDir('vbm-accel-notes-');
  try {
    const { design } = writeStudy(dir, smallStudy({ n: 40, seed: 11, perSd: 0.15 }));
    const exact = join(dir, 'exact');
    await fitAgeModel(dir, design, exact);
    const fast = join(dir, 'fast');
    cpSync(exact, fast, { recursive: true });
    // 200 rearrangements: enough for the per-voxel uncorrected tail (>= ~134) and for the FWE tails
    const req = { contrast: 1, permutations: 200, seed: 5, tfce: true, clusterThreshold: 0.001, workers: 0 };
    const names = permutationFileNames(1);
    const maps = Object.values(names).filter((f) => f.endsWith('.nii') && f !== names.tfce);

    const a = await runPermute(fast, { ...req, accel: { tail: true } });
    const acc = a.result.accel;
    assert.ok(
      acc?.tail?.stat && acc.uncorrected?.stat && acc.uncorrected.tfce,
      'FWE and uncorrected tails were fitted',
    );
    assert.ok(a.result.clusters, 'cluster statistics were computed');
    // every p-value map: its header names the approximation (uncorrected maps: the per-voxel tail)
    for (const f of maps) {
      assert.ok(a.files.includes(f), `${f} written`);
      assert.match(descrip(join(fast, f)), /, GPD tail$/, f);
    }
    // the cluster table: a last column, the same note on each row, naming the tail-fitted FWE columns
    const csv = readFileSync(join(fast, names.table), 'utf8').trimEnd().split('\n');
    const header = csv[0].split(',');
    assert.equal(header.at(-1), 'p_approximation');
    assert.ok(csv.length >= 2, 'the planted effect gives at least one significant cluster');
    const fitted = ['peak_p_FWE', 'tfce_p_FWE', 'p_FWE_extent', 'p_FWE_mass'].filter(
      (_, i) => [acc.tail?.stat, acc.tail?.tfce, acc.tail?.extent, acc.tail?.mass][i] !== null,
    );
    for (const row of csv.slice(1)) {
      const note = row.slice(row.lastIndexOf(',') + 1);
      assert.equal(
        note,
        `${fitted.join(' ')} below 0.1 from a generalised Pareto tail fitted to the null maxima (the rest counted)`,
        row,
      );
    }
    // the JSON summary, the terminal text and the report
    const json = JSON.parse(readFileSync(join(fast, names.summary), 'utf8')) as { accel: { note: string } };
    assert.match(json.accel.note, /generalised Pareto fit to the upper tail of the null maxima/);
    assert.match(json.accel.note, /uncorrected p-values of voxels that fewer than 25 rearrangements reached/);
    assert.ok(a.text.includes(`Accelerated: ${json.accel.note}`));
    assert.match(await reportSection(fast), /P-values: FWE p-values below 0\.1 in the fitted tail/);

    // the exact run: no note in any header, the table keeps its eleven columns, the JSON says counted
    const b = await runPermute(exact, req);
    assert.equal(b.result.accel, null);
    for (const f of maps) assert.doesNotMatch(descrip(join(exact, f)), /GPD|gamma|stopped/, f);
    const exactCsv = readFileSync(join(exact, names.table), 'utf8').split('\n');
    assert.equal(exactCsv[0].split(',').length, 11);
    assert.doesNotMatch(readFileSync(join(exact, names.table), 'utf8'), /approximation|Pareto|gamma/);
    const exactJson = JSON.parse(readFileSync(join(exact, names.summary), 'utf8')) as { accel: { note: string } };
    assert.match(exactJson.accel.note, /no approximation/);
    assert.doesNotMatch(b.text, /Accelerated/);
    assert.doesNotMatch(await reportSection(exact), /Pareto|gamma/);
  } finally {
    cleanup();
  }
});

test('the cluster table note for gamma, stopping and tails that did not pass', () => {
  const stop = { requested: 1000, done: 176, stoppedEarly: true, alpha: 0.05 };
  assert.equal(clusterTableNote(null, 1000, { tfce: true, clusters: true }), null);
  assert.equal(
    clusterTableNote({ tail: null, stop, note: '' }, 176, { tfce: false, clusters: false }),
    'sequential stopping: counted over 176 of 1000 rearrangements',
  );
  const g = { mean: 1, sd: 1, skewness: 1, count: 99 };
  assert.equal(
    clusterTableNote({ tail: null, gamma: { stat: g, tfce: g, extent: null, mass: g }, stop: null, note: '' }, 100, {
      tfce: false,
      clusters: true,
    }),
    "peak_p_FWE p_FWE_mass from a gamma distribution fitted to the null maxima's moments",
  );
  assert.equal(
    clusterTableNote({ tail: { stat: null, tfce: null, extent: null, mass: null }, stop: null, note: '' }, 100, {
      tfce: true,
      clusters: true,
    }),
    'FWE p-values counted (no tail of the null maxima passed the goodness-of-fit test)',
  );
});
