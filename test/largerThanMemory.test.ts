/**
 * Permutation data larger than the memory budget: the streamed test (scratch file in voxel blocks,
 * several passes) gives exactly the in-memory test's outputs with the same seed, for max-T alone and
 * with TFCE and cluster statistics, in-process and with worker threads, and for a task's share; the
 * plan keeps its working set within the budget; sizes parse as users write them.
 */
import { fewBlocksBudget } from './support/budgets.js';
import { fitAgeModel, smallStudy, writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { distributedPermute, planPermutationJob } from '../src/backend/permuteTasks.js';
import { slurmMissing } from './support/slurm.js';
import { taskStreamPlan } from '../src/backend/sharedScratch.js';
import { join } from 'node:path';
import { availableParallelism, hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { tempDir } from './helpers.js';
import {
  type PermutationInput,
  type PermutationResult,
  permutationShare,
  permutationTest,
} from '../src/permutation/permute.js';
import { KERNEL_BATCH } from '../src/permutation/kernel.js';
import {
  type MemoryNeeds,
  type StreamPlan,
  SHARED_BYTES_PER_VOXEL,
  inMemoryBytes,
  planVoxelBlocks,
  streamUnits,
  threadBytesPerVoxel,
  writeBufferBytes,
} from '../src/permutation/voxelBlocks.js';
import { defaultMemoryBudget } from '../src/permutation/memoryBudget.js';
import { readSetting } from '../src/settings/setting.js';
import { RUN } from '../src/settings/vocabulary.js';
import { Rng } from '../src/synth/random.js';
import { gaussianSmooth } from '../src/synth/smooth.js';
import { permutationFileNames, runPermute } from '../src/pipeline/permute.js';
import { VbmError } from '../src/errors.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { wholeBox } from './support/box.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;

/** Sizes are read by the settings vocabulary (RUN.memory, a byte size), as the CLI and analysis files read them. */
const parseMemorySize = (text: string, where?: string): number =>
  readSetting(RUN.memory, text, where === undefined ? 'cli' : { file: where }) as number;

// large enough that a block of data outweighs a kernel slot (its packed chunk holds n x 512 values)
const dims: [number, number, number] = [28, 24, 18];
const V = dims[0] * dims[1] * dims[2];
/** Enough scans that the data, not the per-voxel arrays, dominate the memory (as in a real study). */
const n = 160;

/** A small study with a planted effect of x in a blob, and a nuisance covariate. */
function study(): PermutationInput {
  const rng = new Rng(77);
  const X = Array.from({ length: n }, () => [1, rng.normal(), rng.normal()]);
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++) {
    const f = gaussianSmooth(
      Float32Array.from({ length: V }, () => rng.normal()),
      dims,
      [1, 1, 1],
    );
    for (let v = 0; v < V; v++) {
      const x = v % dims[0];
      Y[i * V + v] = 10 + f[v] + (x < 5 ? 0.8 * X[i][1] : 0);
    }
  }
  return {
    X,
    weights: [[0, 1, 0]],
    type: 'T',
    contrast: { index: 1, name: 'x' },
    Y,
    ...wholeBox(dims, 2),
  };
}

/** A budget (found by stepping down from the in-memory need) whose plan has >= 3 blocks and >= 2 passes. */
function tinyBudget(m: MemoryNeeds, N: number): number {
  for (let b = inMemoryBytes(m); b > 0; b = Math.floor(b * 0.97)) {
    try {
      const p = planVoxelBlocks(m, b);
      if (p && p.blocks.length >= 3 && p.passSize * 2 <= N) return b;
    } catch {
      break;
    }
  }
  throw new Error('no budget gives several blocks and passes');
}

function sameResult(a: PermutationResult, b: PermutationResult, what: string): void {
  const arrays: [string, ArrayLike<number> | null | undefined, ArrayLike<number> | null | undefined][] = [
    ['stat', a.stat, b.stat],
    ['pUnc', a.pUnc, b.pUnc],
    ['pFwe', a.pFwe, b.pFwe],
    ['tfceMap', a.tfceMap, b.tfceMap],
    ['tfcePUnc', a.tfcePUnc, b.tfcePUnc],
    ['tfcePFwe', a.tfcePFwe, b.tfcePFwe],
    ['maxima.stat', a.maxima.stat, b.maxima.stat],
    ['maxima.tfce', a.maxima.tfce, b.maxima.tfce],
    ['maxima.extent', a.maxima.extent, b.maxima.extent],
    ['maxima.mass', a.maxima.mass, b.maxima.mass],
  ];
  for (const [k, x, y] of arrays) {
    assert.equal(x === null || x === undefined, y === null || y === undefined, `${what}: ${k} present in one only`);
    if (!x || !y) continue;
    assert.equal(x.length, y.length, `${what}: ${k} lengths`);
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i])) assert.fail(`${what}: ${k}[${i}] differs: ${x[i]} vs ${y[i]}`);
  }
  assert.deepEqual(a.clusters?.pExtent, b.clusters?.pExtent, `${what}: cluster extent p`);
  assert.deepEqual(a.clusters?.pMass, b.clusters?.pMass, `${what}: cluster mass p`);
}

test('sizes parse as users write them; the default budget is half the machine or the Slurm task', () => {
  assert.equal(parseMemorySize('8G'), 8 * 2 ** 30);
  assert.equal(parseMemorySize('512M'), 512 * 2 ** 20);
  assert.equal(parseMemorySize('1.5g'), 1.5 * 2 ** 30);
  assert.equal(parseMemorySize('64KiB'), 64 * 1024);
  assert.equal(parseMemorySize('1000'), 1000);
  for (const bad of ['', 'lots', '-1G', '0', '8X', '8 G B'])
    assert.throws(
      () => parseMemorySize(bad, 'memory'),
      (e: unknown) => e instanceof VbmError && /memory/.test(e.message),
    );
  assert.equal(defaultMemoryBudget({}, 24 * 2 ** 30), 12 * 2 ** 30);
  // inside a Slurm task: its memory (MB) less the runtime's allowance of 256 MB
  assert.equal(defaultMemoryBudget({ SLURM_JOB_ID: '5', SLURM_MEM_PER_NODE: '8192' }, 24 * 2 ** 30), 7936 * 2 ** 20);
  assert.equal(
    defaultMemoryBudget({ SLURM_JOB_ID: '5', SLURM_MEM_PER_CPU: '1024', SLURM_CPUS_PER_TASK: '4' }, 24 * 2 ** 30),
    3840 * 2 ** 20,
  );
  // Slurm variables outside a job (no SLURM_JOB_ID) are ignored
  assert.equal(defaultMemoryBudget({ SLURM_MEM_PER_NODE: '8192' }, 2 ** 30), 2 ** 29);
  // analysis files: memory: 8G (or bytes); a bad size names the file and the key
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'd.csv'), 'scan,age\na.nii,1\n');
    const spec = (memory: unknown): number | undefined =>
      parseAnalysisSpec({ design: 'd.csv', out: 'o', memory }, dir, 'a.yaml').memory;
    assert.equal(spec('8G'), 8 * 2 ** 30);
    assert.equal(spec(1e9), 1e9);
    assert.throws(
      () => spec('plenty'),
      (e: unknown) => e instanceof VbmError && /a\.yaml: memory must be a size.*'plenty'/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

/** A streamed test's working set, counted from the parts the engines allocate. */
function workingSet(m: MemoryNeeds, p: StreamPlan, budget: number): number {
  // a kernel slot: rows of coefficients (n each) and products (512 each), and the packed chunk (n x 512), 64-byte aligned
  const rows = Math.ceil((KERNEL_BATCH * m.rows) / 4) * 4;
  const slot = Math.ceil(((rows * (m.n + 512) + m.n * 512) * 4) / 64) * 64;
  const perThread =
    m.n * p.blockVoxels * 4 + KERNEL_BATCH * p.blockVoxels * 4 + slot + (p.wholeMaps ? p.passSize * m.V * 4 : 0);
  return (
    writeBufferBytes(budget) +
    SHARED_BYTES_PER_VOXEL * m.V +
    (m.threads + 1) * threadBytesPerVoxel(m.tfce, m.cluster) * m.V +
    m.threads * perThread
  );
}

test('a task that keeps the uncorrected tail (accel tail/gamma) plans its blocks so that blocks and kept values fit its budget', () => {
  for (const m of [
    { n: 4000, V: 260527, rows: 4, threads: 2, tfce: false, cluster: false },
    { n: 4000, V: 260527, rows: 4, threads: 1, tfce: true, cluster: false },
  ]) {
    const budget = 2 * 2 ** 30;
    // kept values: 100 float32 per voxel, for the statistic and for TFCE (voxelTail.ts)
    const tail = m.V * 100 * 4 * (m.tfce ? 2 : 1);
    assert.ok(tail <= budget / 4, 'the tail fits a quarter of the budget, so the task keeps it');
    const p = taskStreamPlan(m, budget, true);
    assert.ok(p, 'streamed');
    const total = workingSet(m, p, p.budget) + tail;
    assert.ok(total <= budget, `blocks and tail ${total} > ${budget}`);
    // without the tail the blocks may take the whole budget
    const plain = taskStreamPlan(m, budget, false);
    assert.ok(plain && plain.blockVoxels > p.blockVoxels, 'the tail takes its share from the blocks');
  }
  // a tail over a quarter of the budget is counted instead: the blocks get the whole budget
  const m = { n: 4000, V: 260527, rows: 4, threads: 1, tfce: true, cluster: false };
  const small = 400 * 2 ** 20;
  assert.deepEqual(taskStreamPlan(m, small, true), taskStreamPlan(m, small, false));
});

test('the plan covers every voxel once, keeps its working set within the budget, and refuses a budget too small', () => {
  for (const m of [
    { n: 4000, V: 260527, rows: 4, threads: 2, tfce: false, cluster: false },
    { n: 4000, V: 260527, rows: 4, threads: 2, tfce: true, cluster: true },
    { n: 379, V: 617000, rows: 5, threads: 1, tfce: true, cluster: false },
  ]) {
    const budget = m.n === 379 ? 0.8 * 2 ** 30 : 2 * 2 ** 30;
    const p = planVoxelBlocks(m, budget);
    assert.ok(p, 'streamed');
    let next = 0;
    let offset = 0;
    for (const b of p.blocks) {
      assert.equal(b.v0, next);
      assert.equal(b.offset, offset);
      assert.ok(b.V > 0 && b.V <= p.blockVoxels && b.stride % 8 === 0 && b.stride >= b.V);
      next += b.V;
      offset += m.n * b.stride * 4;
    }
    assert.equal(next, m.V);
    assert.equal(p.fileBytes, offset);
    const total = workingSet(m, p, budget);
    assert.ok(total <= p.budget, `${total} > ${p.budget}`);
    // writing: the scan buffer and one block's transposition, within the share set aside for them
    assert.ok(p.scansPerWrite > 1 && p.scansPerWrite * (m.V + p.blockVoxels) * 4 <= writeBufferBytes(budget));
  }
  assert.equal(planVoxelBlocks({ n: 10, V: 100, rows: 2, threads: 1, tfce: true, cluster: false }, 2 ** 30), null);
  assert.throws(
    () => planVoxelBlocks({ n: 4000, V: 260527, rows: 4, threads: 2, tfce: true, cluster: false }, 64 * 2 ** 20),
    (e: unknown) => e instanceof VbmError && /too small/.test(e.message) && /--memory/.test(e.hint ?? ''),
  );
});

test('units of work: consecutive chunks, aligned, covering exactly the pending ones', () => {
  const pending = [0, 1, 2, 3, 5, 6, 7, 8, 9, 12];
  const units = streamUnits(pending, 16, 16 * 12 + 5, 64, 2);
  const covered: number[] = [];
  for (const u of units) {
    assert.equal(u.first % 16, 0);
    assert.ok(u.count <= 64);
    for (let j = u.first / 16; j * 16 < u.first + u.count; j++) covered.push(j);
  }
  assert.deepEqual(covered, pending);
  // a pass shorter than a chunk: one chunk per unit
  assert.deepEqual(
    streamUnits([0, 1], 16, 30, 3, 1).map((u) => u.count),
    [16, 14],
  );
});

test('streamed from a scratch file in blocks and passes: the in-memory results, bit for bit (max-T; TFCE and clusters; threads; a share)', async () => {
  const input = study();
  const { dir, cleanup } = tempDir('vbm-bigdata-');
  try {
    const N = 600;
    // scratch files of a dead process of this host (removed) and of another host (left alone)
    const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(join(dir, `perm.scratch-${host}-${deadPid}-1`), 'stale');
    const otherHost = `perm.scratch-${host}x-1-1`;
    writeFileSync(join(dir, otherHost), 'another node');
    const cases = [
      { name: 'max-T, in-process', opts: { workers: 0 } },
      { name: 'max-T, 2 worker threads', opts: { workers: 2 } },
      { name: 'TFCE and clusters, in-process', opts: { workers: 0, tfce: true, clusterThreshold: 0.01 } },
      { name: 'TFCE, 2 worker threads', opts: { workers: 2, tfce: true } },
    ];
    for (const c of cases) {
      const base = { permutations: N, seed: 11, ...c.opts };
      const memory = await permutationTest(input, base);
      const m: MemoryNeeds = {
        n,
        V,
        rows: 2,
        threads: Math.max(1, c.opts.workers),
        tfce: !!c.opts.tfce,
        cluster: c.opts.clusterThreshold !== undefined,
      };
      const budget = tinyBudget(m, N);
      const notes: string[] = [];
      const streamed = await permutationTest(input, {
        ...base,
        memory: budget,
        scratch: join(dir, 'perm'),
        onNote: (s) => notes.push(s),
      });
      const note = notes.find((s) => /streamed from a scratch file/.test(s));
      assert.ok(note, `${c.name}: ${notes.join(' | ')}`);
      const blocks = Number(/in (\d+) voxel blocks/.exec(note)![1]);
      const pass = Number(/(\d+) rearrangements per pass/.exec(note)![1]);
      assert.ok(blocks >= 3 && pass * 2 <= N, note);
      sameResult(memory, streamed, c.name);
      assert.deepEqual(readdirSync(dir), [otherHost], `${c.name}: the scratch files are removed`);
    }
    // a task's share: its maxima and counts
    const shareOpts = { permutations: N, seed: 11, workers: 0, tfce: true };
    const a = await permutationShare(input, shareOpts, 64, 96);
    const b = await permutationShare(
      input,
      {
        ...shareOpts,
        memory: tinyBudget({ n, V, rows: 2, threads: 1, tfce: true, cluster: false }, N),
        scratch: join(dir, 'share'),
      },
      64,
      96,
    );
    assert.deepEqual(b, a);
  } finally {
    cleanup();
  }
});

test('vbm permute with a tiny --memory writes the same files as with the default budget', async () => {
  const { dir, cleanup } = tempDir('vbm-bigdata-');
  try {
    const { design } = writeStudy(dir, smallStudy({ n: 120, seed: 5, perSd: 0.1 }));
    const outs: string[] = [];
    let budget = 0;
    for (const tag of ['memory', 'streamed']) {
      const out = join(dir, tag);
      await fitAgeModel(dir, design, out);
      const notes: string[] = [];
      const r = await runPermute(out, {
        contrast: 1,
        permutations: 200,
        seed: 3,
        tfce: true,
        workers: 1,
        ...(tag === 'streamed' ? { memory: budget } : {}),
        onNote: (s) => notes.push(s),
      });
      const V = r.result.voxels.length;
      budget = tinyBudget({ n: 120, V, rows: 2, threads: 1, tfce: true, cluster: false }, 200);
      assert.equal(
        notes.some((s) => /streamed from a scratch file/.test(s)),
        tag === 'streamed',
        notes.join(' | '),
      );
      assert.ok(!readdirSync(out).some((f) => f.includes('scratch')), 'no scratch file is left');
      outs.push(out);
    }
    const names = permutationFileNames(1);
    for (const k of ['voxP', 'voxPFwe', 'tfce', 'tfceP', 'tfcePFwe'] as const) {
      const x = readFileSync(join(outs[0], names[k]));
      const y = readFileSync(join(outs[1], names[k]));
      assert.ok(x.equals(y), `${names[k]} differs`);
    }
  } finally {
    cleanup();
  }
});

for (const backend of ['local', 'slurm'] as const)
  test(
    `--backend ${backend} with data over a task's --memory: one task writes the scratch file, the others stream it (max-T split by voxel blocks and rearrangements${backend === 'local' ? '; TFCE by rearrangements' : '; also with --no-wait, through two reduce jobs'}); the in-memory run's bytes`,
    { skip: backend === 'slurm' ? slurmMissing() : false },
    async () => {
      const { dir, cleanup } = tempDir('vbm-shared-scratch-');
      try {
        const { design } = writeStudy(dir, smallStudy({ n: 120, seed: 9, perSd: 0.1 }));
        const res = join(dir, 'res');
        await fitAgeModel(dir, design, res);
        const names = permutationFileNames(1);
        for (const tfce of backend === 'local' ? [false, true] : [false]) {
          const req = { contrast: 1, permutations: 200, seed: 4, tfce };
          const plain = join(dir, `plain-${tfce}`);
          cpSync(res, plain, { recursive: true });
          const ref = await runPermute(plain, { ...req, workers: 0 });
          const V = ref.result.voxels.length;
          // a task's needs: 120 scans, 3 product rows (age, and intercept + sex as nuisance), 1 thread per task
          const memory = fewBlocksBudget({ n: 120, V, rows: 3, threads: 1, tfce, cluster: false });
          assert.ok(memory > 0, 'a budget gives several voxel blocks');
          // at least as many local tasks as cores: one worker thread per task, the plan's assumption (Slurm: 1 CPU per task)
          const cores = backend === 'local' ? availableParallelism() : 1;
          const settings = { type: backend, jobs: cores };
          const probe = planPermutationJob(res, { ...req, memory }, cores, settings);
          assert.ok(probe.scratch, 'the data exceed the task budget: a job writes a shared scratch file');
          const nb = probe.scratch.task.work.plan.blocks.length;
          assert.ok(nb >= 2, `${nb} voxel blocks`);
          // max-T: at least twice as many tasks as blocks, so that each block range has several rearrangement blocks
          settings.jobs = Math.max(tfce ? 3 : 2 * nb, cores);
          const dist = join(dir, `tasks-${tfce}`);
          cpSync(res, dist, { recursive: true });
          const d = await distributedPermute(dist, { ...req, memory }, settings);
          const { tasks, scratch } = planPermutationJob(dist, { ...req, memory }, settings.jobs, settings);
          // how the work was split: every (rearrangement block, voxel range) pair once
          const ranges = new Set(tasks.map((t) => `${t.work.shared!.v0}-${t.work.shared!.v1}`));
          const perms = new Set(tasks.map((t) => t.work.first));
          assert.equal(ranges.size, tfce ? 1 : nb, 'voxel ranges');
          assert.equal(perms.size, tfce ? settings.jobs : Math.floor(settings.jobs / nb), 'rearrangement blocks');
          assert.ok(perms.size >= 2);
          assert.equal(tasks.length, ranges.size * perms.size);
          assert.equal(d.job.tasks, tasks.length);
          // the scans were read by the one task that wrote the file: the permutation tasks streamed it
          const logs = (j: typeof scratch & object): string =>
            readFileSync(join(j.job.dir, 'logs', 'task_0000.log'), 'utf8');
          assert.match(logs(scratch!), /scratch file written in/);
          for (const t of tasks) {
            const log = readFileSync(join(d.job.dir, 'logs', `task_${String(t.task).padStart(4, '0')}.log`), 'utf8');
            assert.doesNotMatch(log, /scratch file written|exceed the memory budget/, log);
          }
          assert.ok(!existsSync(scratch!.task.work.file), 'the shared scratch file is removed after the merge');
          for (const f of ref.files) {
            assert.ok(
              readFileSync(join(dist, f)).equals(readFileSync(join(plain, f))),
              `${tfce ? 'TFCE' : 'max-T'}: ${f} differs`,
            );
          }
          assert.ok(ref.files.includes(names.voxPFwe));
          if (backend === 'slurm') {
            // --no-wait: the scratch job's reduce job submits the permutation tasks, whose reduce job merges
            const nw = join(dir, `no-wait-${tfce}`);
            cpSync(res, nw, { recursive: true });
            const args = ['permute', nw, '--contrast', '1', '--permutations', '200', '--seed', '4'];
            args.push('--memory', String(memory), '--backend', 'slurm', '--jobs', String(settings.jobs), '--no-wait');
            const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stdout, /permscratch_/);
            const done = (): boolean => ref.files.every((f) => existsSync(join(nw, f)));
            for (let i = 0; i < 600 && !done(); i++) await new Promise((w) => setTimeout(w, 500));
            assert.ok(done(), 'no outputs 5 minutes after vbm permute --no-wait');
            for (const f of ref.files)
              assert.ok(readFileSync(join(nw, f)).equals(readFileSync(join(plain, f))), `--no-wait: ${f} differs`);
          }
        }
      } finally {
        cleanup();
      }
    },
  );
