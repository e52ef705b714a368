/**
 * Permutation tests run as tasks (`--backend local|slurm --jobs N`) against the plain
 * single-process run with the same seed: every output file must be the same bytes. The Slurm
 * tests need a running Slurm (.ci/run starts one with ../shared/tools/slurm/start-local-slurm.sh
 * and exports SLURM_CONF); they skip, saying why, without it.
 */
import { fitAgeModel, smallStudy, writeStudy } from './support/study.js';
import { slurmMissing } from './support/slurm.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runPermute, type PermuteRequest } from '../src/pipeline/permute.js';
import {
  distributedPermute,
  permutationJob,
  permutationJobBasis,
  planPermutationJob,
} from '../src/backend/permuteTasks.js';
import { stopSchedule } from '../src/permutation/accel.js';
import { LocalRunner } from '../src/backend/local.js';
import { arraySpec } from '../src/backend/slurm.js';
import { backendFromFile, checkBackendSettings } from '../src/backend/backend.js';
import { ResultReader, encodeResult, readSubmissions, resultPath } from '../src/backend/taskFiles.js';
import { cancelJobs, jobStates } from '../src/backend/status.js';
import { VbmError } from '../src/errors.js';
import { FIT_CHUNK } from '../src/estimation/fitChunks.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;

const needSlurm = slurmMissing();

// one small study for every test: 24 scans, 7 mm voxels, a planted age effect
const study = tempDir("vbm-backend $(touch pwned) 'q' 50% ");
const REQ: PermuteRequest = { contrast: 1, permutations: 400, seed: 11, tfce: true, clusterThreshold: 0.01 };
let prepared: Promise<{ res: string; reference: Map<string, Buffer> }> | undefined;

/** The study's analysis folder and the files of a plain single-process run of REQ. */
function reference(): Promise<{ res: string; reference: Map<string, Buffer> }> {
  prepared ??= (async () => {
    const dir = study.dir;
    const { design } = writeStudy(dir, {
      n: 24,
      dims: [24, 28, 24],
      voxelMm: 7,
      noiseFwhmMm: 12,
      seed: 5,
      effects: [{ covariate: 'age', centreMm: [35, -20, 10], sigmaMm: 9, perSd: 0.12 }],
    });
    const res = join(dir, 'res');
    await fitAgeModel(dir, design, res);
    const one = copyOf(res, 'single');
    const out = await runPermute(one, { ...REQ, workers: 0 });
    return { res, reference: new Map(out.files.map((f) => [f, readFileSync(join(one, f))])) };
  })();
  return prepared;
}

let copies = 0;
function copyOf(res: string, what: string): string {
  const d = join(study.dir, `${what}-${++copies}`);
  cpSync(res, d, { recursive: true });
  return d;
}

function assertSameFiles(ref: Map<string, Buffer>, dir: string, what: string): void {
  assert.ok(ref.size >= 11, `the reference run wrote ${ref.size} files`);
  for (const [f, bytes] of ref) {
    assert.ok(existsSync(join(dir, f)), `${what}: ${f} is missing`);
    assert.ok(readFileSync(join(dir, f)).equals(bytes), `${what}: ${f} differs from the single-process run`);
  }
}

test.after(() => study.cleanup());

test('task blocks are whole chunks in order, covering every rearrangement once', async () => {
  const { res } = await reference();
  for (const jobs of [1, 3, 7, 100]) {
    const { tasks } = planPermutationJob(res, REQ, jobs);
    assert.equal(tasks.length, Math.min(jobs, Math.ceil(400 / 16)));
    let next = 0;
    for (const t of tasks) {
      assert.equal(t.work.first, next);
      assert.equal(t.work.first % 16, 0);
      assert.ok(t.work.count > 0);
      next += t.work.count;
    }
    assert.equal(next, 400);
  }
});

test('--backend local --jobs 3: the merged outputs are the single-process run, byte for byte', async () => {
  const { res, reference: ref } = await reference();
  const dir = copyOf(res, 'local');
  const d = await distributedPermute(dir, REQ, { type: 'local', jobs: 3 });
  assert.deepEqual(d.outcome.submitted, [0, 1, 2]);
  assertSameFiles(ref, dir, 'local backend, 3 tasks');
});

test('--backend local with --accel tail or gamma: the approximations run in the merge, the same files as one process', async () => {
  const { res } = await reference();
  for (const accel of [{ tail: true }, { gamma: true }]) {
    const req: PermuteRequest = { ...REQ, accel };
    const one = copyOf(res, 'accel-single');
    const out = await runPermute(one, { ...req, workers: 0 });
    assert.ok(out.result.accel, 'the single-process run is accelerated');
    const ref = new Map(out.files.map((f) => [f, readFileSync(join(one, f))]));
    const dir = copyOf(res, 'accel-local');
    await distributedPermute(dir, req, { type: 'local', jobs: 3 });
    assertSameFiles(ref, dir, `local backend, 3 tasks, accel ${Object.keys(accel).join()}`);
    const summary = JSON.parse(readFileSync(join(dir, 'perm_0001.json'), 'utf8')) as { accel: { note: string } };
    assert.match(summary.accel.note, accel.tail ? /generalised Pareto/ : /gamma distribution/);
  }
});

test('--backend local with --accel stop: tasks in waves stop where one process stops (null contrast) or run to the end (planted), byte for byte', async () => {
  const { res } = await reference();
  const dir = study.dir;
  // the same scans with a contrast on sex, which has no planted effect (sex - here: sex + has a
  // cluster at FWE p ~ 0.005 by chance with this seed)
  const nul = join(dir, 'stop-null');
  await runAnalysis({
    design: join(dir, 'design.csv'),
    out: nul,
    covariates: ['age', 'sex'],
    contrasts: [{ name: 'sex -', type: 'T', columns: ['sex'], weights: [-1] }],
    masking: { explicitMask: join(dir, 'mask.nii') },
    workers: 1,
  });
  for (const [what, folder, stops] of [
    ['null', nul, true],
    ['planted', res, false],
  ] as const) {
    const req: PermuteRequest = { ...REQ, permutations: 1000, accel: { stop: true } };
    // one process, in the calling thread and on two worker threads: the same bytes
    const one = copyOf(folder, `stop-single-${what}`);
    const out = await runPermute(one, { ...req, workers: 0 });
    assert.equal(out.result.accel?.stop?.stoppedEarly, stops, `${what}: ${out.result.permutations} permutations`);
    if (stops) assert.ok(out.result.permutations < 1000 && out.result.permutations % 16 === 0);
    const ref = new Map(out.files.map((f) => [f, readFileSync(join(one, f))]));
    const threads = copyOf(folder, `stop-threads-${what}`);
    await runPermute(threads, { ...req, workers: 2 });
    assertSameFiles(ref, threads, `accel stop, ${what}, 2 threads`);
    const many = copyOf(folder, `stop-local-${what}`);
    const notes: string[] = [];
    const d = await distributedPermute(many, { ...req, onNote: (m) => notes.push(m) }, { type: 'local', jobs: 3 });
    assertSameFiles(ref, many, `accel stop, ${what}, local backend in waves of 3 tasks`);
    assert.equal(d.output?.result.permutations, out.result.permutations);
    // the waves submitted: as many as the schedule points reached (112, 176, 272, 416, 624, 944, 1000)
    const waves = readdirSync(join(many, 'vbm-tasks')).filter((f) => f.startsWith('perm_'));
    const points = [112, 176, 272, 416, 624, 944, 1000];
    assert.equal(waves.length, points.indexOf(out.result.permutations) + 1, `${what}: ${waves.join(' ')}`);
    assert.match(notes.join('\n'), /merging the results of \d+ tasks in waves/);
  }
});

test("--accel stop with a task backend plans once: each wave's job from the one basis is the job planned afresh for it", async () => {
  const { res } = await reference();
  const req: PermuteRequest = { ...REQ, permutations: 1000, accel: { stop: true } };
  const basis = permutationJobBasis(res, req);
  assert.equal(basis.N, 1000);
  let first = 0;
  const names = new Set<string>();
  for (const end of stopSchedule(1000, 16, 100)) {
    const wave = { first, end };
    const once = permutationJob(basis, 3, undefined, wave);
    assert.deepEqual(once, planPermutationJob(res, req, 3, undefined, wave), `wave [${first}, ${end})`);
    assert.equal(once.tasks[0].work.first, first);
    assert.equal(once.tasks.at(-1)!.work.first + once.tasks.at(-1)!.work.count, end);
    names.add(once.job.name);
    first = end;
  }
  assert.equal(names.size, 7, 'each wave is a job of its own');
});

test('--backend local with variance groups (two-sample, unequal variances): the tasks draw the same sign flips as the local run, byte for byte', async () => {
  await reference();
  const dir = study.dir;
  const uv = join(dir, 'uv');
  // sex as a two-level factor; ReML gives one variance per group, so permutation uses Welch's v and sign flips
  await runAnalysis({
    design: join(dir, 'design.csv'),
    out: uv,
    model: 'two_sample',
    factor: 'sex',
    factors: ['sex'],
    covariates: ['age'],
    contrasts: [{ name: 'age +', type: 'T', columns: ['age'], weights: [1] }],
    masking: { explicitMask: join(dir, 'mask.nii') },
    workers: 1,
  });
  const req: PermuteRequest = { contrast: 1, permutations: 48, seed: 4, tfce: true };
  const one = copyOf(uv, 'uv-single');
  const out = await runPermute(one, { ...req, workers: 0 });
  assert.match(out.text, /Welch's v with 2 variance groups/);
  const ref = new Map(out.files.map((f) => [f, readFileSync(join(one, f))]));
  const many = copyOf(uv, 'uv-local');
  await distributedPermute(many, req, { type: 'local', jobs: 3 });
  assertSameFiles(ref, many, 'local backend with variance groups, 3 tasks');
});

test('local: a killed task is run again (retries) and the result is still exact; without retries the failure names its log and rerun command', async () => {
  const { res, reference: ref } = await reference();
  const dir = copyOf(res, 'local-kill');
  const runner = new LocalRunner(3);
  const notes: string[] = [];
  let killed = 0;
  const d = await distributedPermute(
    dir,
    REQ,
    { type: 'local', jobs: 3, retries: 1 },
    {
      runner,
      onNote: (m) => notes.push(m),
      onSubmit: (_id, _tasks, attempt) => {
        const pid = runner.pids(planPermutationJob(dir, REQ, 3).job).get(1);
        if (attempt === 1 && pid) {
          process.kill(pid, 'SIGKILL');
          killed++;
        }
      },
    },
  );
  assert.equal(killed, 1);
  assert.deepEqual(d.outcome.retried, [1]);
  assert.ok(
    notes.some((m) => /task 1 .* failed .*task_0001\.log.*attempt 2 of 2/.test(m)),
    notes.join('\n'),
  );
  assertSameFiles(ref, dir, 'local backend after a retry');

  const dir2 = copyOf(res, 'local-fail');
  const runner2 = new LocalRunner(3);
  await assert.rejects(
    distributedPermute(
      dir2,
      REQ,
      { type: 'local', jobs: 3, retries: 0 },
      {
        runner: runner2,
        rerun: 'vbm permute again',
        onSubmit: () => process.kill(runner2.pids(planPermutationJob(dir2, REQ, 3).job).get(2)!, 'SIGKILL'),
      },
    ),
    (e: unknown) =>
      e instanceof VbmError &&
      /1 of 3 tasks .* failed/.test(e.message) &&
      /task 2: failed 1 time\(s\); log .*task_0002\.log; rerun it alone with: vbm task .*task_0002\.json/.test(
        e.message,
      ) &&
      /vbm permute again/.test(e.hint ?? ''),
  );
  // the same command again runs only the missing task, and the outputs are exact
  const again = await distributedPermute(dir2, REQ, { type: 'local', jobs: 3 });
  assert.deepEqual(again.outcome.alreadyDone, [0, 1]);
  assert.deepEqual(again.outcome.submitted, [2]);
  assertSameFiles(ref, dir2, 'local backend, rerun of the failed task');
});

test('a task result read a section at a time: the written values, in or out of order; a changed byte fails the content hash', () => {
  const dir = join(study.dir, 'result-reader');
  mkdirSync(dir, { recursive: true });
  const a = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i));
  const b = Uint32Array.from({ length: 333 }, (_, i) => i * 7);
  const c = Float32Array.from({ length: 50 }, (_, i) => i / 3);
  const p = join(dir, 'task_0000.result');
  writeFileSync(
    p,
    encodeResult({ job: 'j', task: 0 }, [
      { name: 'a', data: a },
      { name: 'b', data: b },
      { name: 'c', data: c },
    ]),
  );
  for (const order of [
    ['a', 'b', 'c'],
    ['c', 'a'],
  ]) {
    const r = new ResultReader(p);
    assert.equal(r.meta.job, 'j');
    const want: Record<string, ArrayLike<number>> = { a, b, c };
    for (const name of order) assert.deepEqual(r.section(name), want[name], name);
    assert.equal(r.section('d'), undefined);
    r.close();
  }
  // one byte of the last section changed: the sections before it read, the hash fails at close
  const bytes = readFileSync(p);
  bytes[bytes.length - 3] ^= 1;
  writeFileSync(p, bytes);
  const r = new ResultReader(p);
  assert.deepEqual(r.section('a'), a);
  assert.throws(() => r.close(), /content hash differs/);
  writeFileSync(p, bytes.subarray(0, bytes.length - 10));
  assert.throws(() => new ResultReader(p), /is damaged \(a section is short\)/);
});

test('settings are checked as written: jobs, sbatch arguments, Slurm options without Slurm', () => {
  assert.throws(
    () => checkBackendSettings({ type: 'slurm', jobs: 0 }, '--backend'),
    /jobs must be a whole number from 1 to 1000/,
  );
  assert.throws(
    () => checkBackendSettings({ type: 'slurm', jobs: 2, sbatchArgs: ['qos=normal'] }, '--backend'),
    /sbatch argument 'qos=normal' must be one option/,
  );
  assert.throws(
    () => checkBackendSettings({ type: 'local', jobs: 2, partition: 'short' }, '--backend'),
    /are for the Slurm backend/,
  );
  assert.throws(
    () => checkBackendSettings({ type: 'local', jobs: 2, wait: false }, '--backend'),
    /--no-wait\) is for the Slurm backend/,
  );
  assert.throws(
    () => checkBackendSettings({ type: 'pbs' as 'slurm', jobs: 2 }, 'backend'),
    /'pbs' is not one of local, slurm/,
  );
  assert.equal(arraySpec([5, 0, 1, 2, 7, 8]), '0-2,5,7-8');
  // the analysis file's backend section
  assert.deepEqual(
    backendFromFile(
      { type: 'slurm', jobs: 20, partition: 'short', time: '00:30:00', mem: '8G', sbatch_args: ['--qos=normal'] },
      'a.yaml',
    ),
    {
      type: 'slurm',
      jobs: 20,
      partition: 'short',
      time: '00:30:00',
      mem: '8G',
      account: undefined,
      sbatchArgs: ['--qos=normal'],
      retries: 1,
      wait: undefined,
    },
  );
  assert.equal(backendFromFile('local', 'a.yaml').jobs, 4);
  assert.throws(
    () => backendFromFile({ type: 'slurm', queue: 'x' }, 'a.yaml'),
    /a\.yaml: backend: unknown key 'queue'/,
  );
  assert.throws(() => backendFromFile({ type: 'slurm', jobs: '20' }, 'a.yaml'), /'jobs' must be a number/);
});

test(
  'CLI --backend slurm --jobs 3: the merged outputs are the single-process run, byte for byte (a folder name with spaces, quotes, % and $(...))',
  { skip: needSlurm },
  async () => {
    const { res, reference: ref } = await reference();
    const dir = copyOf(res, 'slurm');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'permute',
        dir,
        '--contrast',
        '1',
        '--permutations',
        '400',
        '--seed',
        '11',
        '--tfce',
        '--cluster-threshold',
        '0.01',
        '--backend',
        'slurm',
        '--jobs',
        '3',
        '--time',
        '00:05:00',
        '--sbatch-arg=--comment=vbm test',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assertSameFiles(ref, dir, 'Slurm backend, 3 tasks');
    const job = planPermutationJob(dir, REQ, 3).job;
    for (const where of [process.cwd(), study.dir, job.dir])
      assert.ok(!readdirSync(where).includes('pwned'), `a shell interpreted the folder name (${where}/pwned)`);
    assert.ok(existsSync(join(job.dir, 'probe.ok')), 'the probe job did not write probe.ok');
    // vbm show lists each task as done, with its log
    const show = spawnSync(process.execPath, [CLI, 'show', dir], { encoding: 'utf8' });
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /3 of 3 tasks done/);
    assert.equal((show.stdout.match(/ done +\S.*task_000[0-2]\.log/g) ?? []).length, 3, show.stdout);
  },
);

test(
  'Slurm: a cancelled array task is submitted again and the outputs stay exact; a half-finished job reruns only its missing task',
  { skip: needSlurm },
  async () => {
    const { res, reference: ref } = await reference();
    const dir = copyOf(res, 'slurm-kill');
    const notes: string[] = [];
    const d = await distributedPermute(
      dir,
      REQ,
      { type: 'slurm', jobs: 3, retries: 1 },
      {
        onNote: (m) => notes.push(m),
        onSubmit: (id, _tasks, attempt) => {
          if (attempt === 1) execFileSync('scancel', [`${id}_1`]);
        },
      },
    );
    assert.deepEqual(d.outcome.retried, [1]);
    assert.ok(
      notes.some((m) => /task 1 .* failed/.test(m)),
      notes.join('\n'),
    );
    const subs = readSubmissions(d.job).filter((s) => s.tasks.length);
    assert.deepEqual(
      subs.map((s) => [s.tasks, s.attempt]),
      [
        [[0, 1, 2], 1],
        [[1], 2],
      ],
    );
    assertSameFiles(ref, dir, 'Slurm backend after a retry');

    // half-finished: task 2's result is lost; the same command submits task 2 only
    rmSync(resultPath(d.job, 2));
    for (const f of ref.keys()) rmSync(join(dir, f));
    const again = await distributedPermute(dir, REQ, { type: 'slurm', jobs: 3 });
    assert.deepEqual(again.outcome.alreadyDone, [0, 1]);
    assert.deepEqual(again.outcome.submitted, [2]);
    const last = readSubmissions(d.job).at(-1)!;
    assert.deepEqual(last.tasks, [2]);
    assertSameFiles(ref, dir, 'Slurm backend, rerun of a half-finished job');
  },
);

test(
  'Slurm: --no-wait returns at submission, vbm show reports the tasks, vbm cancel stops them',
  { skip: needSlurm },
  async () => {
    const { res } = await reference();
    const dir = copyOf(res, 'slurm-cancel');
    // many permutations, so that the tasks are still queued or running when they are cancelled
    const big = { ...REQ, permutations: 200000, clusterThreshold: undefined };
    const d = await distributedPermute(dir, big, { type: 'slurm', jobs: 3, wait: false });
    assert.equal(d.output, undefined);
    assert.deepEqual(d.outcome.submitted, [0, 1, 2]);
    const before = await jobStates(dir);
    assert.equal(before.length, 1);
    assert.ok(
      before[0].tasks.every((t) => t.status === 'pending' || t.status === 'running'),
      JSON.stringify(before[0].tasks),
    );
    const ids = await cancelJobs(dir);
    assert.ok(ids.length >= 1);
    // Slurm removes cancelled tasks from the queue within a few seconds
    let states = await jobStates(dir);
    for (let i = 0; i < 100 && states[0].tasks.some((t) => t.status === 'pending' || t.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      states = await jobStates(dir);
    }
    assert.deepEqual(
      states[0].tasks.map((t) => t.status),
      ['failed', 'failed', 'failed'],
    );
    const q = execFileSync('squeue', ['--noheader', '--array', `--name=vbm-${d.job.name}`], { encoding: 'utf8' });
    assert.equal(q.trim(), '');
  },
);

test(
  'Slurm --no-wait: a task cancelled after submission is submitted again by the reduce job (afterany), and the outputs it merges are the single-process run, byte for byte',
  { skip: needSlurm },
  async () => {
    const { res, reference: ref } = await reference();
    const dir = copyOf(res, 'slurm-nowait-retry');
    const args = [CLI, 'permute', dir, '--contrast', '1', '--permutations', '400', '--seed', '11', '--tfce'];
    args.push('--cluster-threshold', '0.01', '--backend', 'slurm', '--jobs', '3', '--retries', '1', '--no-wait');
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const job = planPermutationJob(dir, REQ, 3).job;
    const first = readSubmissions(job).find((s) => s.tasks.length)!;
    execFileSync('scancel', [`${first.id}_1`]);
    // the reduce job runs when the array has ended, submits task 1 again and leaves a second reduce job, which merges
    const done = (): boolean => [...ref.keys()].every((f) => existsSync(join(dir, f)));
    for (let i = 0; i < 600 && !done(); i++) await new Promise((w) => setTimeout(w, 500));
    const subs = readSubmissions(job);
    assert.ok(done(), `no outputs after 5 minutes; submissions: ${JSON.stringify(subs)}`);
    assertSameFiles(ref, dir, 'Slurm --no-wait after a cancelled task');
    const runs = subs.filter((s) => s.tasks.length).map((s) => [s.tasks, s.attempt]);
    assert.deepEqual(runs, [
      [[0, 1, 2], 1],
      [[1], 2],
    ]);
    assert.equal(subs.filter((s) => s.role === 'reduce').length, 2, JSON.stringify(subs));
    const log = readFileSync(join(job.dir, 'logs', 'reduce.log'), 'utf8');
    assert.match(log, /task 1 of \S+ ended without a result; submitting again \(attempt 2 of 2\)/);
  },
);

// the fit as tasks: 77 scans = three fixed chunks of 32 (the last one short)
let fitStudy: Promise<{ design: string; plain: string }> | undefined;
function fitReference(): Promise<{ design: string; plain: string }> {
  // made once, on first use; a failure here (thrown in the executor) is kept as the rejection every caller sees
  fitStudy ??= new Promise((resolve) => {
    const dir = join(study.dir, 'fit');
    const cohort = makeCohort(smallStudy({ n: 2 * FIT_CHUNK + 13, seed: 3, perSd: 0.1, sigmaMm: 9 }));
    const design = writeCohort(dir, cohort, { format: 'nii' });
    const plain = join(dir, 'plain');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        design,
        '-o',
        plain,
        '--covariates',
        'age,sex',
        '--contrast',
        'age:T:age',
        'F:age,sex',
        '--workers',
        '1',
        '-q',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    resolve({ design, plain });
  });
  return fitStudy;
}

function assertSameFit(plain: string, dir: string, what: string): void {
  const files = readdirSync(plain)
    .filter((f) => f.endsWith('.nii'))
    .concat('smoothness.json');
  assert.ok(
    files.includes('ResMS.nii') && files.includes('RPV.nii') && files.includes('spmF_0002.nii'),
    files.join(' '),
  );
  for (const f of files)
    assert.ok(
      readFileSync(join(dir, f)).equals(readFileSync(join(plain, f))),
      `${what}: ${f} differs from the single-thread fit`,
    );
}

for (const backend of ['local', 'slurm'] as const) {
  test(
    `vbm run --backend ${backend} --jobs 3: the fit's maps (beta, ResMS, RPV, con, spmT, spmF) and smoothness are the single-thread fit's bytes`,
    { skip: backend === 'slurm' ? needSlurm : false },
    async () => {
      const { design, plain } = await fitReference();
      const out = join(study.dir, 'fit', backend);
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'run',
          design,
          '-o',
          out,
          '--covariates',
          'age,sex',
          '--contrast',
          'age:T:age',
          'F:age,sex',
          '--backend',
          backend,
          '--jobs',
          '3',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`${backend} tasks \\(fit\\): 3/3`));
      assertSameFit(plain, out, `${backend} backend, 3 tasks`);
      const jobs = readdirSync(join(out, 'vbm-tasks'));
      assert.equal(jobs.length, 1);
      const left = readdirSync(join(out, 'vbm-tasks', jobs[0]));
      assert.deepEqual(
        left.filter((f) => f.startsWith('task_')).sort(),
        ['task_0000.json', 'task_0001.json', 'task_0002.json'],
        'the chunk sums are removed after the merge',
      );
      const show = spawnSync(process.execPath, [CLI, 'show', out], { encoding: 'utf8' });
      assert.match(show.stdout, /Job fit_\w+ .*: 3 of 3 tasks done/, show.stdout);
    },
  );
}
