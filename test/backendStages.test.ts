/**
 * The pipeline's stages on a task backend (issue 16, second part): a design with variance groups
 * fitted as tasks, several models' fits and permutations out at once, the dependent reduce job
 * that --no-wait leaves on Slurm, and how failed tasks ended (sacct / the jobcomp file). Every
 * output is compared byte for byte with the plain single-process run of the same command. The
 * Slurm tests need a running Slurm and SLURM_CONF; they skip, saying why, without them.
 */
import { slurmMissing } from './support/slurm.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { SlurmRunner } from '../src/backend/slurm.js';
import { runJob } from '../src/backend/runJob.js';
import {
  jobFolder,
  writeJobRecord,
  writeTaskFiles,
  TASK_FORMAT,
  listJobs,
  readSubmissions,
} from '../src/backend/taskFiles.js';
import { cancelJobs, jobStates } from '../src/backend/status.js';
import { VbmError } from '../src/errors.js';
import { FIT_CHUNK } from '../src/estimation/fitChunks.js';
import { VBM_CLI } from './support/cli.js';
import { smallStudy } from './support/study.js';

const CLI = VBM_CLI;
const vbm = (args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });

const needSlurm = slurmMissing();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until Slurm job `id` has left the queue (at most `seconds`). */
async function leftQueue(id: string, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    const q = spawnSync('squeue', ['--noheader', '--jobs', id, '--format=%i'], { encoding: 'utf8' });
    if (q.status !== 0 || q.stdout.trim() === '') return;
    await sleep(250);
  }
  assert.fail(`Slurm job ${id} is still in the queue after ${seconds} s`);
}

// 77 scans (three chunks of 32 in all; with the sex groups, each group's scans in their own chunks)
const study = tempDir('vbm-stages-backend-');
test.after(() => study.cleanup());
let made: { design: string; dir: string } | undefined;
function cohort(): { design: string; dir: string } {
  if (made) return made;
  const dir = study.dir;
  const c = makeCohort(smallStudy({ n: 2 * FIT_CHUNK + 13, seed: 7, perSd: 0.12, sigmaMm: 9 }));
  const design = writeCohort(dir, c, { format: 'nii' });
  writeFileSync(join(dir, 'mask.nii'), templateMask(c));
  made = { design, dir };
  return made;
}

/** Every image, smoothness.json and the permutation files of `plain` are the same bytes in `dir`. */
function assertSameOutputs(plain: string, dir: string, what: string, min = 1): void {
  const files = readdirSync(plain).filter((f) => /\.(nii|csv)$/.test(f) || f === 'smoothness.json');
  assert.ok(files.length >= min, `${what}: only ${files.join(' ')}`);
  for (const f of files)
    assert.ok(
      existsSync(join(dir, f)) && readFileSync(join(dir, f)).equals(readFileSync(join(plain, f))),
      `${what}: ${f} differs from the single-process run`,
    );
}

const UNEQUAL = ['--model', 'two-sample', '--factor', 'sex', '--covariates', 'age', '--contrast', 'age:T:age'];
let unequalPlain: string | undefined;
function unequalReference(): string {
  if (unequalPlain) return unequalPlain;
  const { design, dir } = cohort();
  const plain = join(dir, 'uv-plain');
  const r = vbm(['run', design, '-o', plain, ...UNEQUAL, '--workers', '1', '-q']);
  assert.equal(r.status, 0, r.stderr);
  const rec = JSON.parse(readFileSync(join(plain, 'model.json'), 'utf8')) as { nonSphericity?: { groups: number[] } };
  assert.ok(rec.nonSphericity, 'the reference has no variance groups: the test would show nothing');
  unequalPlain = plain;
  return plain;
}

for (const backend of ['local', 'slurm'] as const) {
  test(
    `vbm run --backend ${backend} --jobs 3 with variance groups (two-sample, unequal variances): the fit runs as tasks and every map, ReML included, is the single-process fit's bytes`,
    { skip: backend === 'slurm' ? needSlurm : false },
    () => {
      const plain = unequalReference();
      const out = join(cohort().dir, `uv-${backend}`);
      const r = vbm(['run', cohort().design, '-o', out, ...UNEQUAL, '--backend', backend, '--jobs', '3']);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /fitted in this process/);
      assert.match(r.stderr, new RegExp(`${backend} tasks \\(fit\\): 3/3`));
      assertSameOutputs(plain, out, `variance groups, ${backend}, 3 tasks`, 8);
      const rec = (d: string): unknown =>
        (JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as { nonSphericity: unknown }).nonSphericity;
      assert.deepEqual(rec(out), rec(plain), 'ReML (h, groups, pooled voxels) as in the single process');
      const jobs = listJobs(out);
      assert.equal(jobs.length, 1);
      const job = JSON.parse(readFileSync(join(jobs[0].dir, 'job.json'), 'utf8')) as { varianceGroups?: number };
      assert.equal(job.varianceGroups, 2);
    },
  );
}

/** An analysis file with two models (different covariates) and a small TFCE permutation test. */
function twoModels(out: string, backend?: 'local' | 'slurm'): string {
  const { design, dir } = cohort();
  const file = join(dir, `${out}.yaml`);
  writeFileSync(
    file,
    [
      `design: ${design}`,
      `out: ${join(dir, out)}`,
      'mask: mask.nii',
      'models:',
      '  - name: age',
      '    covariates: [age]',
      '    contrasts: [{name: age, type: T, columns: [age], weights: [1]}]',
      '  - name: agesex',
      '    covariates: [age, sex]',
      '    contrasts: [{name: age, type: T, columns: [age], weights: [1]}]',
      'permute: {permutations: 96, seed: 3, tfce: true}',
      'workers: 1',
      ...(backend ? [`backend: {type: ${backend}, jobs: 2}`] : []),
    ].join('\n') + '\n',
  );
  return file;
}

for (const backend of ['local', 'slurm'] as const) {
  test(
    `two models on --backend ${backend}: both fits are out at once, then both permutation tests; every output is the single-process run's bytes`,
    { skip: backend === 'slurm' ? needSlurm : false },
    () => {
      const plainFile = twoModels('two-plain');
      const p = vbm(['run', plainFile, '-q']);
      assert.equal(p.status, 0, p.stderr);
      const file = twoModels(`two-${backend}`, backend);
      const r = vbm(['run', file]);
      assert.equal(r.status, 0, r.stderr);
      // stage by stage: both models' estimate stages end before either model's permutations start
      const order = [...r.stderr.matchAll(/^\[(\w+)\] (estimate|permutations): ran/gm)].map((m) => `${m[1]}/${m[2]}`);
      assert.deepEqual(order.slice(0, 2).sort(), ['age/estimate', 'agesex/estimate'], r.stderr);
      assert.deepEqual(order.slice(2).sort(), ['age/permutations', 'agesex/permutations'], r.stderr);
      for (const m of ['age', 'agesex']) {
        assertSameOutputs(
          join(cohort().dir, 'two-plain', m),
          join(cohort().dir, `two-${backend}`, m),
          `${backend}, model ${m}`,
          8,
        );
        const kinds = listJobs(join(cohort().dir, `two-${backend}`, m)).map((j) => j.name.split('_')[0]);
        assert.deepEqual(kinds.sort(), ['fit', 'perm']);
      }
      if (backend === 'slurm') {
        // one sbatch array per stage for both models: the same Slurm job id in both models' records
        for (const kind of ['fit', 'perm']) {
          const arrays = ['age', 'agesex'].map((m): string => {
            const jobs = listJobs(join(cohort().dir, `two-${backend}`, m));
            const job = jobs.find((j) => j.name.startsWith(`${kind}_`))!;
            const subs = readSubmissions(job).filter((s) => s.tasks.length);
            assert.equal(subs.length, 1, JSON.stringify(subs));
            assert.ok(subs[0].name && subs[0].index, `the ${kind} tasks of model ${m} were not in a shared array`);
            return subs[0].id;
          });
          assert.equal(
            arrays[0],
            arrays[1],
            `${kind}: the two models' tasks went out as arrays ${arrays.join(' and ')}`,
          );
        }
      }
    },
  );
}

test(
  'Slurm --no-wait: a dependent reduce job (afterany) finishes the run by itself; vbm show reports it; the outputs are the single-process bytes',
  { skip: needSlurm },
  async () => {
    const { design, dir } = cohort();
    const args = [
      '--covariates',
      'age,sex',
      '--contrast',
      'age:T:age',
      '--permutations',
      '96',
      '--tfce',
      '--seed',
      '3',
    ];
    const plain = join(dir, 'nw-plain');
    const p = vbm(['run', design, '-o', plain, ...args, '--workers', '1', '-q']);
    assert.equal(p.status, 0, p.stderr);
    // relative paths: the reduce job runs the command again in the folder it was given in
    const r = vbm(
      ['run', 'design.csv', '-o', 'nw-slurm', ...args, '--backend', 'slurm', '--jobs', '2', '--no-wait'],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    const first = /reduce: Slurm job (\d+)/.exec(r.stdout);
    assert.ok(first, r.stdout);
    assert.match(r.stdout, /estimate: the fit was submitted as 2 slurm tasks/);
    const out = join(dir, 'nw-slurm');
    const shown = vbm(['show', out]);
    assert.match(shown.stdout, new RegExp(`reduce: Slurm job ${first[1]} (PENDING|RUNNING|COMPLETED)`), shown.stdout);
    // the reduce job merges the fit, submits the permutations and leaves a second reduce job, which finishes
    await leftQueue(first[1], 240);
    const log = readFileSync(join(listJobs(out)[0].dir, 'logs', 'reduce.log'), 'utf8');
    const second = /reduce: Slurm job (\d+)/.exec(log);
    assert.ok(second, log);
    await leftQueue(second[1], 240);
    assertSameOutputs(plain, out, 'Slurm --no-wait with reduce jobs', 10);
    const states = await jobStates(out);
    assert.deepEqual(
      states.map((s) => [s.job.name.split('_')[0], s.reduce?.state, s.reduce?.exitCode]),
      [
        ['fit', 'COMPLETED', '0:0'],
        ['perm', 'COMPLETED', '0:0'],
      ],
    );
    assert.match(vbm(['show', out]).stdout, /reduce: Slurm job \d+ COMPLETED, exit code 0:0/);
  },
);

test(
  'Slurm: a failed task is reported with the state and exit code sacct gives (the jobcomp file here), in the error and in vbm show',
  { skip: needSlurm },
  async () => {
    const dir = join(study.dir, 'failing');
    const job = jobFolder(dir, 'perm_bad', 2);
    writeJobRecord(job, { kind: 'permute', backend: 'slurm' });
    writeFileSync(join(study.dir, 'input.bin'), 'x');
    // the inputs' recorded hash is wrong: each task refuses to run (VbmError: exit code 2)
    writeTaskFiles(
      job,
      [0, 1].map((k) => ({
        format: TASK_FORMAT,
        kind: 'permute',
        job: job.name,
        task: k,
        tasks: 2,
        analysis: dir,
        inputs: [{ path: join(study.dir, 'input.bin'), sha256: '0'.repeat(64) }],
        work: {},
      })),
    );
    await assert.rejects(
      runJob(job, new SlurmRunner({ type: 'slurm', jobs: 2 }), { retries: 0, probe: false, pollMs: 200 }),
      (e: unknown) =>
        e instanceof VbmError &&
        /2 of 2 tasks of perm_bad failed/.test(e.message) &&
        /task 0: failed 1 time\(s\) \(Slurm FAILED, exit code 2:0\)/.test(e.message),
    );
    const states = await jobStates(dir);
    assert.deepEqual(
      states[0].tasks.map((t) => [t.status, t.ended]),
      [
        ['failed', 'Slurm FAILED, exit code 2:0'],
        ['failed', 'Slurm FAILED, exit code 2:0'],
      ],
    );
  },
);

test(
  'Slurm --no-wait then vbm cancel: the tasks and the pending reduce job are cancelled',
  { skip: needSlurm },
  async () => {
    const { design, dir } = cohort();
    const out = join(dir, 'cancel');
    const fit = vbm(['run', design, '-o', out, '--covariates', 'age', '--contrast', 'age:T:age', '-q']);
    assert.equal(fit.status, 0, fit.stderr);
    const r = vbm([
      'permute',
      out,
      '--contrast',
      '1',
      '--permutations',
      '200000',
      '--backend',
      'slurm',
      '--jobs',
      '2',
      '--no-wait',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const id = /reduce: Slurm job (\d+)/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    const before = await jobStates(out);
    assert.equal(before[0].reduce?.id, id);
    assert.equal(before[0].reduce?.state, 'PENDING');
    const ids = await cancelJobs(out);
    assert.ok(ids.includes(id), `${ids.join(',')} lacks the reduce job ${id}`);
    await leftQueue(id, 60);
    // cancelled array tasks pass through CG (completing) on their way out of the queue: wait for them
    const queued = (): string =>
      execFileSync('squeue', ['--noheader', `--name=vbm-${before[0].job.name}`], { encoding: 'utf8' }).trim();
    let q = queued();
    for (const end = Date.now() + 30_000; q && Date.now() < end; q = queued())
      await new Promise((done) => setTimeout(done, 500));
    assert.equal(q, '');
  },
);
