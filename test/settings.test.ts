/**
 * The settings vocabulary (issue 12): every flag of every command is declared once in
 * src/settings/vocabulary.ts, defaults come from there, and a bad value is named as the user wrote
 * it: the flag on the command line, the key (with the file) in an analysis file. Expected names,
 * defaults and byte counts are written out by hand from the README, not taken from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { VOCABULARY, RUN, PERMUTE } from '../src/settings/vocabulary.js';
import { longFlag, parseByteSize, type Setting, readSetting, settingName } from '../src/settings/setting.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { runCheck } from '../src/pipeline/check.js';
import { makeQcCohort, writeQcCohort } from '../src/synth/qcCohort.js';
import { VbmError } from '../src/errors.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { planScheme } from '../src/permutation/schemePlan.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;
const vbm = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

const COMMANDS = ['run', 'check', 'init', 'results', 'label', 'permute', 'plot', 'report', 'show', 'task'];

test('every flag that --help lists is declared in the settings vocabulary', () => {
  const declared = new Set(
    Object.values(VOCABULARY)
      .flatMap((section) => Object.values(section as Record<string, Setting>))
      .map(longFlag),
  );
  let seen = 0;
  for (const c of COMMANDS) {
    const help = vbm(c, '--help');
    assert.equal(help.status, 0, help.stderr);
    // option lines of commander's help: two spaces, optional short flag, then the long flag
    const flags = [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]);
    assert.ok(flags.length > 0, `vbm ${c} --help lists options`);
    for (const f of flags) {
      if (f === '--help') continue;
      assert.ok(declared.has(f), `vbm ${c} ${f} is declared in src/settings/vocabulary.ts`);
      seen++;
    }
  }
  assert.ok(seen > 80, `${seen} flags checked`);
});

test('documented defaults: 5000 permutations, 3 peaks 8 mm apart, p < 0.001 (CLI help and analysis file agree)', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'design.csv'), 'scan,age\na.nii,1\n');
    const spec = parseAnalysisSpec(
      { design: 'design.csv', out: 'o', results: true, permute: true },
      dir,
      join(dir, 'a.yaml'),
    );
    assert.equal(spec.permute?.permutations, 5000);
    assert.equal(spec.permute?.connectivity, 26);
    assert.deepEqual(
      [spec.results?.threshold, spec.results?.peaks, spec.results?.peakDistance, spec.results?.correction],
      [0.001, 3, 8, 'none'],
    );
    const help = vbm('permute', '--help').stdout.replace(/\s+/g, ' ');
    assert.match(help, /--permutations <n> number of permutations.*\(default: "5000"\)/);
    assert.match(
      vbm('results', '--help').stdout.replace(/\s+/g, ' '),
      /--peaks <n> local maxima listed per cluster \(default: "3"\)/,
    );
  } finally {
    cleanup();
  }
});

test('a bad value is named as written: the flag on the command line, the key and file in an analysis file', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'design.csv'), 'scan,age\na.nii,1\n');
    const file = join(dir, 'study.yaml');
    const inFile = (raw: Record<string, unknown>): unknown =>
      parseAnalysisSpec({ design: 'design.csv', out: 'o', ...raw }, dir, file);
    const onLine = (raw: Record<string, unknown>): unknown =>
      parseAnalysisSpec({ design: 'design.csv', out: 'o', ...raw }, dir, 'command line', 'cli');
    const named = (f: () => unknown, name: string, not: string): void =>
      assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof VbmError);
        assert.ok(e.message.includes(name), `'${e.message}' names ${name}`);
        assert.ok(!e.message.includes(not), `'${e.message}' does not name ${not}`);
        return true;
      });
    named(() => inFile({ permute: { permutations: 0 } }), `${file}: permute: permutations`, '--permutations');
    named(() => onLine({ permute: { permutations: '0' } }), '--permutations', 'permute:');
    named(() => inFile({ results: { peaks: 2.5 } }), `${file}: results: peaks`, '--peaks');
    named(() => onLine({ results: { peaks: '2.5' } }), '--peaks', 'results:');
    named(() => inFile({ results: { peak_distance: 'far' } }), `${file}: results: peak_distance`, '--peak-distance');
    named(() => inFile({ report: { display: 'w' } }), `${file}: report: display`, '--display');
    named(() => inFile({ permute: { cluster_threshold: 5 } }), `${file}: permute: cluster_threshold`, '--cluster');
    named(() => onLine({ permute: { cluster_threshold: '5' } }), '--cluster-threshold', 'permute:');
    // the design keys too (validated by pipeline/designSpec.ts)
    named(() => inFile({ globals: { normalisation: 'ratio' } }), `${file}: globals.normalisation`, '--normalisation');
    named(() => onLine({ globals: { normalisation: 'ratio' } }), '--normalisation', 'globals');
    named(() => onLine({ globals: { grand_mean_scaling: -3 } }), '--grand-mean-scaling', 'globals');
    named(() => onLine({ variance: 'maybe' }), '--variance', 'command line');
    named(() => inFile({ variance: 'maybe' }), `${file}: variance`, '--variance');
    named(() => onLine({ model: 'foo' }), '--model', 'command line');
    // a file holds numbers as numbers: text where a number goes is refused there, parsed on the command line
    named(() => inFile({ workers: '2' }), `${file}: workers`, '--workers');
    assert.equal(onLine({ workers: '2' }) && (onLine({ workers: '2' }) as { workers: number }).workers, 2);
  } finally {
    cleanup();
  }
});

test('permute: scheme, blocks, alpha, tfce_e, tfce_h in an analysis file: a bad value names the file and key', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'design.csv'), 'scan,age\na.nii,1\nb.nii,2\n');
    writeFileSync(join(dir, 'blocks-bad.txt'), '1 1 two\n');
    const file = join(dir, 'study.yaml');
    const inFile = (permute: Record<string, unknown>): unknown =>
      parseAnalysisSpec({ design: 'design.csv', out: 'o', permute }, dir, file);
    const named = (f: () => unknown, name: string, not: string): void =>
      assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof VbmError);
        assert.ok(e.message.includes(name), `'${e.message}' names ${name}`);
        assert.ok(!e.message.includes(not), `'${e.message}' does not name ${not}`);
        return true;
      });
    named(() => inFile({ scheme: 'shuffle' }), `${file}: permute: scheme must be auto, permute or signflip`, '--');
    named(() => inFile({ alpha: 1.5 }), `${file}: permute: alpha must be > 0 and < 1`, '--alpha');
    named(() => inFile({ alpha: '0.05' }), `${file}: permute: alpha must be a number`, '--alpha');
    named(() => inFile({ tfce: true, tfce_e: 0 }), `${file}: permute: tfce_e must be > 0`, '--tfce-e');
    named(() => inFile({ tfce: true, tfce_h: -2 }), `${file}: permute: tfce_h must be > 0`, '--tfce-h');
    named(
      () => inFile({ blocks: 'none.txt' }),
      `${file}: permute: blocks: file not found: ${join(dir, 'none.txt')}`,
      '--',
    );
    named(
      () => inFile({ blocks: 'blocks-bad.txt' }),
      `entry 3 ('two') is not a whole number (${file}: permute: blocks)`,
      '--',
    );
    // accel is named as the other keys are (it said permute.accel)
    named(() => inFile({ accel: 'negbin' }), `${file}: permute: accel: 'negbin'`, 'permute.accel');
    // a blocks file of the wrong length is refused when the test is planned, naming the key
    named(
      () =>
        planScheme(
          [[1], [1], [1]],
          [[1]],
          'T',
          { index: 1, name: 'mean' },
          { blocks: [1, 2], origin: { file: 'study.yaml' } },
        ),
      'study.yaml: permute: blocks (exchangeability blocks): 2 given for 3 scans',
      '--blocks',
    );
    // absent, they stay absent (so the permutations stage's key of an older file is unchanged)
    const plain = inFile({ permutations: 100 }) as { permute: Record<string, unknown> };
    for (const k of ['scheme', 'blocks', 'alpha', 'tfceParams']) assert.ok(!(k in plain.permute), k);
  } finally {
    cleanup();
  }
});

test('permute: scheme, blocks, alpha, tfce_e, tfce_h in an analysis file reach the permutation test (perm_0001.json)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 8;
    const design = writeCohort(dir, makeCohort({ n, dims: [10, 12, 10], voxelMm: 12, noiseFwhmMm: 16, seed: 5 }));
    // two blocks of four, in design order; relative to the analysis file
    writeFileSync(join(dir, 'blocks.txt'), '1 1 1 1\n2 2 2 2\n');
    const study = (name: string, permute: string): { file: string; out: string } => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `design: ${design}\nout: ${name}\ncovariates: [age]\nworkers: 0\n` +
          'contrasts: [{name: age+, type: T, columns: [age], weights: [1]}]\n' +
          `permute: {permutations: 40, seed: 1, ${permute}}\n`,
      );
      return { file, out: join(dir, name) };
    };
    const summaryOf = (s: { file: string; out: string }): Record<string, unknown> => {
      const r = vbm('run', s.file, '-q');
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(readFileSync(join(s.out, 'perm_0001.json'), 'utf8')) as Record<string, unknown>;
    };
    const flips = summaryOf(study('flips', 'scheme: signflip, alpha: 0.1, tfce: true, tfce_e: 0.6, tfce_h: 1.5'));
    // an age effect is permuted by default; signflip was asked for
    assert.equal(flips.scheme, 'sign flips');
    assert.equal(flips.alpha, 0.1);
    assert.deepEqual(flips.tfce, { E: 0.6, H: 1.5 });
    // the critical value is the 90th percentile of the 40 null maxima: the 36th smallest
    const maxima = (flips.nullMaxima as { stat: number[] }).stat.slice().sort((a, b) => a - b);
    assert.equal((flips.criticalFWE as { stat: number }).stat, maxima[35]);
    const blocked = summaryOf(study('blocked', 'blocks: blocks.txt'));
    assert.equal(blocked.scheme, 'Freedman-Lane permutations');
    assert.equal(blocked.alpha, 0.05);
    // permutations within two blocks of four distinct rows: 4! 4! = 576 (8! = 40320 without blocks);
    // exp of a sum of log-gamma values, so equal to about 1e-12 relative
    assert.ok(Math.abs((blocked.distinct as number) - 576) < 576 * 1e-9, `distinct ${String(blocked.distinct)}`);
  } finally {
    cleanup();
  }
});

test('a library error about a setting names it as the spec says it was written (vbm check columns)', async () => {
  const t = tempDir('vbm-settings-check-');
  try {
    const cohort = makeQcCohort({ n: 5, dims: [10, 12, 10], voxelMm: 12, seed: 1 });
    const design = writeQcCohort(t.dir, cohort);
    await assert.rejects(
      runCheck({ design, out: t.dir, nuisance: ['nope'], origin: { file: 'study.yaml' } }),
      (e: unknown) =>
        e instanceof VbmError && /column 'nope' \(named by study\.yaml: check: nuisance\)/.test(e.message),
    );
    await assert.rejects(
      runCheck({ design, out: t.dir, globals: 'nope', origin: 'cli' }),
      (e: unknown) => e instanceof VbmError && /column 'nope' \(named by --globals\)/.test(e.message),
    );
  } finally {
    t.cleanup();
  }
});

test('byte sizes for --memory / memory: powers of 1024, as Slurm', () => {
  assert.equal(parseByteSize('8G'), 8 * 1024 * 1024 * 1024);
  assert.equal(parseByteSize('512M'), 512 * 1024 * 1024);
  assert.equal(parseByteSize('1.5T'), 1.5 * 1024 ** 4);
  assert.equal(parseByteSize('64k'), 65536);
  assert.equal(parseByteSize('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseByteSize('1000'), 1000);
  assert.equal(parseByteSize('eight'), undefined);
  assert.equal(readSetting(RUN.memory, '8G', 'cli'), 8 * 1024 ** 3);
  assert.equal(readSetting(RUN.memory, 4096, { file: 'a.yaml' }), 4096);
  assert.throws(() => readSetting(RUN.memory, '8 apples', { file: 'a.yaml' }), /a\.yaml: memory must be a size/);
  assert.throws(() => readSetting(RUN.memory, 'lots', 'cli'), /--memory must be a size/);
  // the accelerations the vocabulary knows, gamma included (the engine says which it runs)
  assert.deepEqual(readSetting(PERMUTE.accel, 'tail,gamma', 'cli'), ['tail', 'gamma']);
  assert.equal(settingName(PERMUTE.accel, { file: 'a.yaml' }), 'a.yaml: permute: accel');
});

test('vbm show DIR | head: the reader going away ends vbm quietly (exit 0, no stack trace)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 6, dims: [10, 12, 10], voxelMm: 12, noiseFwhmMm: 16, seed: 3 });
    const design = writeCohort(dir, cohort);
    const out = join(dir, 'out');
    const run = vbm('run', design, '-o', out, '--contrast', 'T:age', '-q', '--workers', '0');
    assert.equal(run.status, 0, run.stderr);
    // the reader closes before vbm writes (as head does after its lines): vbm's next write fails with EPIPE
    const child = spawn(process.execPath, [CLI, 'show', out, '--scans'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(code, 0);
  } finally {
    cleanup();
  }
});
