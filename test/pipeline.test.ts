/**
 * Analysis files and cached stages: a re-run reuses every stage, a changed contrast re-runs only
 * contrasts and what follows, a changed scan re-runs everything, damaged outputs are recomputed,
 * a killed run resumes to the same outputs as an uninterrupted one, and a second run on the same
 * folder is refused while the first holds the lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;
const vbm = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

function stagesOf(stderr: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stderr.matchAll(
    /^(?:\[(\w+)\] )?(design|estimate|contrasts|results|labels|permutations|report): (cached|ran)/gm,
  ))
    out[(m[1] ? `${m[1]}/` : '') + m[2]] = m[3];
  return out;
}

test('an analysis file: cached re-runs, a changed contrast, a changed scan, damaged outputs, --force and --from', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 12, dims: [16, 18, 16], voxelMm: 9, noiseFwhmMm: 16, seed: 3 });
    writeCohort(dir, cohort, { format: 'nii' });
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    const init = vbm('init', join(dir, 'design.csv'), '-o', join(dir, 'analysis.yaml'));
    assert.equal(init.status, 0, init.stderr);
    let yaml = readFileSync(join(dir, 'analysis.yaml'), 'utf8').replace('# mask: mask.nii.gz', 'mask: mask.nii');
    writeFileSync(join(dir, 'analysis.yaml'), yaml);
    const first = vbm('run', join(dir, 'analysis.yaml'));
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(stagesOf(first.stderr), {
      design: 'ran',
      estimate: 'ran',
      contrasts: 'ran',
      results: 'ran',
      report: 'ran',
    });
    const out = join(dir, 'results');
    const spmT = readFileSync(join(out, 'spmT_0001.nii'));
    // again: everything cached
    const again = vbm('run', join(dir, 'analysis.yaml'));
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(stagesOf(again.stderr), {
      design: 'cached',
      estimate: 'cached',
      contrasts: 'cached',
      results: 'cached',
      report: 'cached',
    });
    // a retyped third contrast: contrasts and results re-run; the F files of the old contrast go
    assert.ok(existsSync(join(out, 'spmF_0003.nii')));
    yaml = yaml.replace(
      /- \{name: "Effect of age or sex", type: F, columns: \[age, sex\]\}/,
      '- {name: "apoe4 +", type: T, columns: [apoe4], weights: [1]}',
    );
    writeFileSync(join(dir, 'analysis.yaml'), yaml);
    const changed = vbm('run', join(dir, 'analysis.yaml'));
    assert.deepEqual(stagesOf(changed.stderr), {
      design: 'cached',
      estimate: 'cached',
      contrasts: 'ran',
      results: 'ran',
      report: 'ran',
    });
    assert.ok(
      !existsSync(join(out, 'spmF_0003.nii')) &&
        !existsSync(join(out, 'spmF_0003_thresh.nii')) &&
        existsSync(join(out, 'spmT_0003.nii')),
    );
    // contrast 1 is unchanged and recomputed from the saved betas: byte for byte the same
    assert.deepEqual(readFileSync(join(out, 'spmT_0001.nii')), spmT);
    // a damaged output is found by its hash and recomputed
    const con = join(out, 'con_0002.nii');
    const good = readFileSync(con);
    const bad = Buffer.from(good);
    bad[bad.length - 5] ^= 0x55;
    writeFileSync(con, bad);
    const repaired = vbm('run', join(dir, 'analysis.yaml'));
    assert.match(repaired.stderr, /contrasts: ran in [\d.]+ s \(output con_0002\.nii was changed or damaged/);
    assert.deepEqual(readFileSync(con), good);
    // one scan's content changes: everything after the design re-runs
    const scans = readdirSync(join(dir, 'scans')).sort();
    copyFileSync(join(dir, 'scans', scans[1]), join(dir, 'scans', scans[0]));
    const rescanned = vbm('run', join(dir, 'analysis.yaml'));
    assert.equal(rescanned.status, 0, rescanned.stderr);
    assert.deepEqual(stagesOf(rescanned.stderr), {
      design: 'cached',
      estimate: 'ran',
      contrasts: 'ran',
      results: 'ran',
      report: 'ran',
    });
    // a changed report option redraws the report only
    writeFileSync(
      join(dir, 'analysis.yaml'),
      readFileSync(join(dir, 'analysis.yaml'), 'utf8').replace(
        'report: {sign: pos, display: z, cuts: 8, background: template}',
        'report: {sign: pos, display: ortho, background: mean, viewer: false}',
      ),
    );
    const redrawn = vbm('run', join(dir, 'analysis.yaml'));
    assert.equal(redrawn.status, 0, redrawn.stderr);
    assert.deepEqual(stagesOf(redrawn.stderr), {
      design: 'cached',
      estimate: 'cached',
      contrasts: 'cached',
      results: 'cached',
      report: 'ran',
    });
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<h3>Contrast 1: Effect of age \(\+\)/);
    // --from results and --force
    assert.deepEqual(stagesOf(vbm('run', join(dir, 'analysis.yaml'), '--from', 'results').stderr), {
      design: 'cached',
      estimate: 'cached',
      contrasts: 'cached',
      results: 'ran',
      report: 'ran',
    });
    assert.deepEqual(stagesOf(vbm('run', join(dir, 'analysis.yaml'), '--force').stderr), {
      design: 'ran',
      estimate: 'ran',
      contrasts: 'ran',
      results: 'ran',
      report: 'ran',
    });
    // vbm show: stages and files, and --json for scripts
    const show = vbm('show', out);
    assert.match(show.stdout, /Stages:\n.*\n.*\ndesign\s/);
    const js = JSON.parse(vbm('show', out, '--json').stdout) as { stages: { stage: string }[]; files: string[] };
    assert.deepEqual(
      js.stages.map((s) => s.stage),
      ['design', 'estimate', 'contrasts', 'results', 'report'],
    );
    assert.ok(js.files.includes('table_0001.csv'));
  } finally {
    cleanup();
  }
});

test('several models over the same scans, and analysis files with mistakes', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 10, dims: [14, 16, 14], voxelMm: 10, noiseFwhmMm: 16, seed: 4 });
    writeCohort(dir, cohort, { format: 'nii' });
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    writeFileSync(
      join(dir, 'a.yaml'),
      [
        'design: design.csv',
        'out: out',
        'mask: mask.nii',
        'models:',
        '  - name: age_only',
        '    covariates: [age]',
        '    contrasts: [{name: age, type: T, columns: [age], weights: [1]}]',
        '  - name: full',
        '    covariates: [age, sex, apoe4]',
        '    contrasts: [{name: age, type: T, columns: [age], weights: [1]}, {name: all, type: F, columns: [age, sex, apoe4]}]',
      ].join('\n'),
    );
    const r = vbm('run', join(dir, 'a.yaml'));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(stagesOf(r.stderr), {
      'age_only/design': 'ran',
      'age_only/estimate': 'ran',
      'age_only/contrasts': 'ran',
      'full/design': 'ran',
      'full/estimate': 'ran',
      'full/contrasts': 'ran',
    });
    const show = JSON.parse(vbm('show', join(dir, 'out'), '--json').stdout) as {
      models: { design: { columns: string[] } }[];
    };
    assert.deepEqual(
      show.models.map((m) => m.design.columns),
      [
        ['mean', 'age'],
        ['mean', 'age', 'sex', 'apoe4'],
      ],
    );
    // mistakes name the key
    writeFileSync(join(dir, 'b.yaml'), 'design: design.csv\nout: out2\ncontrast: []\n');
    const b = vbm('run', join(dir, 'b.yaml'));
    assert.equal(b.status, 2);
    assert.match(b.stderr, /b\.yaml: unknown key 'contrast'/);
    assert.match(b.stderr, /allowed keys: design, out, covariates/);
    writeFileSync(join(dir, 'c.yaml'), 'design: nothere.csv\nout: out3\n');
    assert.match(
      vbm('run', join(dir, 'c.yaml')).stderr,
      /c\.yaml: design: the spreadsheet .*nothere\.csv does not exist/,
    );
    writeFileSync(
      join(dir, 'd.yaml'),
      'design: design.csv\nout: out4\nresults: {threshold: 0.001, correction: bonferroni}\n',
    );
    assert.match(vbm('run', join(dir, 'd.yaml')).stderr, /results: correction must be none, fwe or fdr/);
    // the other analysis in a folder is refused without --overwrite (another design), as before
    writeFileSync(join(dir, 'e.yaml'), 'design: design.csv\nout: out/full\ncovariates: [age]\ncontrasts: []\n');
    const e = vbm('run', join(dir, 'e.yaml'));
    assert.equal(e.status, 2);
    assert.match(e.stderr, /already holds a different analysis/);
  } finally {
    cleanup();
  }
});

test('a killed run resumes to the outputs of an uninterrupted one; a running one locks its folder', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({
      n: 60,
      dims: [32, 38, 32],
      voxelMm: 5,
      noiseFwhmMm: 12,
      seed: 9,
      effects: [{ covariate: 'age', centreMm: [30, -20, 10], sigmaMm: 10, perSd: 0.08 }],
    });
    writeCohort(dir, cohort, { format: 'nii.gz' });
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    const spec = (out: string): string =>
      `design: design.csv\nout: ${out}\nmask: mask.nii\ncontrasts: [{name: age, type: T, columns: [age], weights: [1]}]\nresults: {threshold: 0.001, extent: 5}\n`;
    writeFileSync(join(dir, 'whole.yaml'), spec('whole'));
    writeFileSync(join(dir, 'killed.yaml'), spec('killed'));
    const whole = vbm('run', join(dir, 'whole.yaml'), '--workers', '1');
    assert.equal(whole.status, 0, whole.stderr);
    // kill -9 in the middle of reading the scans
    // (the testing hook slows the reading of each scan to 30 ms, so that the kill lands mid-estimation)
    const child = spawn(process.execPath, [CLI, 'run', join(dir, 'killed.yaml'), '--workers', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, VBM_TEST_SCAN_DELAY_MS: '30' },
    });
    let err = '';
    let killedAt = '';
    await new Promise<void>((resolveP) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const done = Math.max(0, ...[...err.matchAll(/reading scans: (\d+)\/60/g)].map((m) => Number(m[1])));
        if (done >= 6 && done < 60 && !killedAt) {
          killedAt = `${done}/60`;
          child.kill('SIGKILL');
        }
      });
      child.on('exit', () => resolveP());
    });
    assert.ok(killedAt, `the run was not killed mid-estimation: ${err}`);
    const killedDir = join(dir, 'killed');
    assert.ok(!existsSync(join(killedDir, 'spmT_0001.nii')), 'no output of the interrupted estimation');
    assert.ok(existsSync(join(killedDir, '.vbm-lock')), 'the killed process left its lock');
    // the rerun takes over the stale lock, clears temporaries, and finishes
    const rerun = vbm('run', join(dir, 'killed.yaml'), '--workers', '1');
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, /a lock left by an interrupted run \(process \d+\) was taken over/);
    for (const f of [
      'beta_0001.nii',
      'beta_0002.nii',
      'ResMS.nii',
      'mask.nii',
      'RPV.nii',
      'con_0001.nii',
      'spmT_0001.nii',
      'spmT_0001_thresh.nii',
      'table_0001.csv',
    ]) {
      assert.deepEqual(
        readFileSync(join(killedDir, f)),
        readFileSync(join(dir, 'whole', f)),
        `${f} differs from the uninterrupted run's`,
      );
    }
    assert.deepEqual(
      readdirSync(killedDir).filter((f) => f.startsWith('.')),
      [],
      'no lock or temporary file is left',
    );
    // a live process holding the lock: refused, nothing touched
    writeFileSync(join(killedDir, '.vbm-lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: 'now' }));
    const refused = vbm('run', join(dir, 'killed.yaml'));
    assert.equal(refused.status, 2);
    assert.match(
      refused.stderr,
      new RegExp(`another vbm \\(process ${process.pid}, started now\\) is working on .*killed`),
    );
    assert.match(refused.stderr, /hint: wait for it to finish; if it is not running any more, delete .*\.vbm-lock/);
  } finally {
    cleanup();
  }
});

test('vbm run names a missing or truncated scan before touching the folder (plain .nii scans read once each)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 8, dims: [10, 12, 10], voxelMm: 12, noiseFwhmMm: 20, seed: 5 });
    const design = writeCohort(dir, cohort, { format: 'nii' });
    const out = join(dir, 'out');
    const scan = (i: number): string => join(dir, 'scans', `smwc1sub-${String(i).padStart(4, '0')}.nii`);
    const whole = readFileSync(scan(3));
    // a truncated scan: the header's claim against the file's size, as readHeaderOnly words it
    writeFileSync(scan(5), whole.subarray(0, whole.length - 100));
    // ...and a missing one earlier in the sheet: every scan's existence is checked first
    writeFileSync(design, readFileSync(design, 'utf8').replace('smwc1sub-0006.nii', 'smwc1sub-0099.nii'));
    let r = vbm('run', design, '-o', out, '-q');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /scan not found: .*smwc1sub-0099\.nii/);
    assert.match(r.stderr, /check the first column of .*design\.csv/);
    writeFileSync(design, readFileSync(design, 'utf8').replace('smwc1sub-0099.nii', 'smwc1sub-0006.nii'));
    r = vbm('run', design, '-o', out, '-q');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /smwc1sub-0005\.nii: the header describes .* holds only/);
    assert.equal(existsSync(out), false, 'the folder is not made');
    writeFileSync(scan(5), whole);
    r = vbm('run', design, '-o', out, '-q');
    assert.equal(r.status, 0, r.stderr);
  } finally {
    cleanup();
  }
});
