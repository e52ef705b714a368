/**
 * A permutation test as tasks. The rearrangements 0..N-1 that a local run with the seed draws
 * are split into contiguous blocks of whole chunks (PERMUTATION_CHUNK); task k recomputes the
 * same seeded table and runs only its block, writing the maxima of each rearrangement (in index
 * order) and the voxel-wise exceedance counts. The reduce merges them (maxima by index, counts
 * summed: both exact) and finishes exactly as a local run does, so the outputs are the same
 * bytes whatever the number of tasks.
 *
 * With sequential stopping (accel stop) the tasks run in waves: the rearrangements between two
 * points of the stopping schedule (permutation/accel.ts) are one job, split across the tasks; after
 * each wave the rule is decided on the null maxima merged so far, as one process decides it at the
 * same points, and the next wave is submitted only when the run goes on.
 */
import { defaultOf, settingName } from '../settings/setting.js';
import { PERMUTE } from '../settings/vocabulary.js';
import { sha256Hex } from '../node/contentHash.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { openAnalysis } from '../pipeline/analysis.js';
import { type PermuteOutput, type PermuteRequest, runPermute } from '../pipeline/permute.js';
import type { BatchResult } from '../permutation/engine.js';
import { PERMUTATION_CHUNK, type PermuteOptions, planScheme, withVarianceGroups } from '../permutation/permute.js';
import { permuteContrastShare } from '../pipeline/permuteInput.js';
import { productRows } from '../permutation/partition.js';
import { rearrangements } from '../permutation/schemes.js';
import { VBM_VERSION } from '../node/version.js';
import { FSL_TFCE } from '../permutation/tfce.js';
import type { BackendSettings, TaskRunner } from './backend.js';
import { stopReached, stopSchedule } from '../permutation/accel.js';
import { TAIL_KEEP, type TopValues, mergeTop } from '../permutation/voxelTail.js';
import { type JobOutcome, type RunJobOptions, runJob } from './runJob.js';
import { runnerFor } from './runners.js';
import { type FitWork, runFitTask } from './fitTasks.js';
import {
  type ScratchWork,
  type SharedWork,
  blockRange,
  runScratchTask,
  scratchJob,
  sharedScratchOf,
  splitWork,
  taskBudget,
  taskStreamPlan,
  taskThreads,
} from './sharedScratch.js';
import {
  type JobFolder,
  type TaskFile,
  TASK_FORMAT,
  finishedTasks,
  checkInputs,
  decodeResult,
  encodeResult,
  jobFolder,
  resultPath,
  sha256File,
  writeJobRecord,
  writeTaskFiles,
} from './taskFiles.js';

/** The settings of a permutation test that a task needs (plain JSON). */
export interface PermuteWork {
  options: Pick<
    PermuteOptions,
    | 'permutations'
    | 'seed'
    | 'scheme'
    | 'tfce'
    | 'tfceParams'
    | 'connectivity'
    | 'clusterThreshold'
    | 'blocks'
    | 'kernel'
    | 'accel'
    | 'memory'
  > & { contrast: number };
  /** Number of rearrangements (all of them, the observed included). */
  rearrangements: number;
  first: number;
  count: number;
  /** Data larger than the task's memory: the scratch file written once for every task, and the voxels this task owns. */
  shared?: SharedWork;
}

function workOptions(req: PermuteRequest, contrast: number): PermuteWork['options'] {
  // defaults made explicit, so that the same test asked for in different words is the same job
  const {
    permutations = defaultOf(PERMUTE.permutations),
    seed = 0,
    scheme = 'auto',
    tfce = false,
    tfceParams = FSL_TFCE,
    connectivity = Number(PERMUTE.connectivity.default) as 6 | 18 | 26,
    clusterThreshold,
    blocks,
    kernel,
    accel,
    memory,
  } = req;
  const o = {
    contrast,
    permutations,
    seed,
    scheme,
    tfce,
    tfceParams: tfce ? tfceParams : undefined,
    connectivity,
    clusterThreshold,
    blocks,
    kernel,
    // tail and gamma make the tasks keep each voxel's largest null values (the uncorrected tail)
    accel: accel?.tail || accel?.gamma ? { ...accel, stop: undefined } : undefined,
    memory,
  };
  return JSON.parse(JSON.stringify(o)) as PermuteWork['options'];
}

/** What the tasks of a permutation test are made from, whatever the split: read once for all the waves of a stop run. */
export interface PermutationJobBasis {
  req: PermuteRequest;
  analysis: ReturnType<typeof openAnalysis>;
  contrast: number;
  /** Product rows per rearrangement, rearrangements (all, the observed included), analysed voxels. */
  rows: number;
  N: number;
  V: number;
  options: PermuteWork['options'];
  inputs: { path: string; sha256: string }[];
}

/** Open the analysis, plan the rearrangements, hash the task inputs and count the mask's voxels (once). */
export function permutationJobBasis(dir: string, req: PermuteRequest): PermutationJobBasis {
  const a = openAnalysis(dir);
  const con = a.contrast(req.contrast);
  const rec = a.record;
  const requested = req.permutations ?? defaultOf(PERMUTE.permutations);
  if (!Number.isInteger(requested) || requested < 1)
    throw new VbmError(
      `${settingName(PERMUTE.permutations, req.origin)} must be a positive whole number (got ${requested})`,
    );
  // the exchangeability the local test will use (variance groups change the defaults)
  const eff = withVarianceGroups(req, rec.nonSphericity?.groups);
  const plan = planScheme(rec.design.matrix, con.weights, con.type, { index: con.index, name: con.name }, eff);
  const productRowList = productRows(plan.part, plan.scheme).rows;
  const N = rearrangements(productRowList, rec.scans.length, {
    scheme: plan.scheme,
    requested,
    seed: req.seed ?? defaultOf(PERMUTE.seed),
    blocks: eff.blocks,
  }).count;
  const options = workOptions(req, con.index);
  const inputs = ['model.json', 'mask.nii'].map((f) => ({ path: a.path(f), sha256: sha256File(a.path(f)) }));
  const mask = a.image('mask.nii').data;
  let V = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] > 0) V++;
  return {
    req,
    analysis: a,
    contrast: con.index,
    rows: productRowList.length,
    N,
    V,
    options,
    inputs,
  };
}

/** A permutation job's folder and tasks, and the job that writes the shared scratch file when there is one. */
export interface PermutationJobPlan {
  job: JobFolder;
  tasks: TaskFile<PermuteWork>[];
  scratch?: { job: JobFolder; task: TaskFile<ScratchWork> };
}

/**
 * The tasks of a permutation test split `jobs` ways (fewer when there are fewer chunks). When the
 * data exceed a task's memory (as far as `settings` tell: see sharedScratch.ts), also the job that
 * writes the scratch file they all stream, and with maximum statistics alone the tasks split the
 * voxel blocks as well as the rearrangements. With `wave`, only the rearrangements
 * [wave.first, wave.end) (whole chunks), as a job of its own.
 */
export function planPermutationJob(
  dir: string,
  req: PermuteRequest,
  jobs: number,
  settings?: BackendSettings,
  wave?: { first: number; end: number },
): PermutationJobPlan {
  return permutationJob(permutationJobBasis(dir, req), jobs, settings, wave);
}

/** planPermutationJob from a basis made once (the waves of a stop run). */
export function permutationJob(
  basis: PermutationJobBasis,
  jobs: number,
  settings?: BackendSettings,
  wave?: { first: number; end: number },
): PermutationJobPlan {
  const { req, analysis: a, N, V, options, inputs } = basis;
  const rec = a.record;
  const c0 = wave ? wave.first / PERMUTATION_CHUNK : 0;
  const cEnd = wave ? Math.ceil(Math.min(N, wave.end) / PERMUTATION_CHUNK) : Math.ceil(N / PERMUTATION_CHUNK);
  if (!Number.isInteger(c0) || !(cEnd > c0))
    throw new Error(`permutation wave [${wave?.first}, ${wave?.end}) is not whole chunks within ${N}`);
  const chunks = cEnd - c0;
  // the data matrix against a task's memory: streamed from one scratch file written for all tasks
  const threads = Math.min(taskThreads(settings, jobs), chunks);
  // (a wave's tasks stream on their own when the data exceed their memory: no shared file across waves)
  const memPlan = wave
    ? null
    : taskStreamPlan(
        {
          n: rec.scans.length,
          V,
          rows: basis.rows,
          threads,
          tfce: !!options.tfce,
          cluster: options.clusterThreshold !== undefined,
        },
        taskBudget(req.memory, settings),
        !!(options.accel?.tail || options.accel?.gamma),
      );
  const scratchKey = (what: unknown): string => sha256Hex(JSON.stringify(what)).slice(0, 10);
  const scratch = memPlan
    ? scratchJob(
        a.dir,
        scratchKey({ v: VBM_VERSION, id: rec.analysisId, inputs, options, memPlan }),
        options,
        memPlan,
        inputs,
      )
    : undefined;
  const { P, B } = splitWork(jobs, chunks, memPlan);
  const T = P * B;
  const key = sha256Hex(
    JSON.stringify({
      v: VBM_VERSION,
      id: rec.analysisId,
      inputs,
      options,
      N,
      T,
      ...(scratch ? { scratch: scratch.job.name, B } : {}),
      ...(wave ? { wave } : {}),
    }),
  ).slice(0, 10);
  const job = jobFolder(a.dir, `perm_${String(basis.contrast).padStart(4, '0')}_${key}`, T);
  const tasks = [...Array(T).keys()].map((k): TaskFile<PermuteWork> => {
    const p = Math.floor(k / B);
    const from = c0 + Math.floor((p * chunks) / P);
    const to = c0 + Math.floor(((p + 1) * chunks) / P);
    const first = from * PERMUTATION_CHUNK;
    const count = Math.min(N, to * PERMUTATION_CHUNK) - first;
    const shared: SharedWork | undefined =
      scratch && memPlan
        ? { job: scratch.job.name, file: scratch.task.work.file, ...blockRange(memPlan, k % B, B, V) }
        : undefined;
    return {
      format: TASK_FORMAT,
      kind: 'permute',
      job: job.name,
      task: k,
      tasks: T,
      analysis: a.dir,
      inputs,
      work: { options, rearrangements: N, first, count, ...(shared ? { shared } : {}) },
    };
  });
  return { job, tasks, ...(scratch ? { scratch } : {}) };
}

/** Run one permutation task and write its result atomically. */
export async function runPermutationTask(
  t: TaskFile<PermuteWork>,
  job: JobFolder,
  opts: { workers?: number; onNote?: (m: string) => void },
): Promise<string> {
  checkInputs(t);
  const a = openAnalysis(t.analysis);
  const w = t.work;
  const sh = w.shared;
  const r = await permuteContrastShare(
    a,
    {
      ...w.options,
      workers: opts.workers,
      onNote: opts.onNote,
      ...(sh ? { sharedScratch: { ...sharedScratchOf(t.analysis, sh), blocks: sh.blocks } } : {}),
    },
    w.first,
    w.count,
  );
  // a task that owns a range of voxels writes the counts of those voxels only
  const own = <A extends Uint32Array | null>(c: A): A => (sh && c ? (c.slice(sh.v0, sh.v1) as A) : c);
  const countTfce = own(r.countTfce);
  const sections = [
    { name: 'maxStat', data: r.maxStat },
    { name: 'maxTfce', data: r.maxTfce },
    { name: 'maxExtent', data: r.maxExtent },
    { name: 'maxMass', data: r.maxMass },
    { name: 'countStat', data: own(r.countStat) },
    ...(countTfce ? [{ name: 'countTfce', data: countTfce }] : []),
    ...(r.topStat ? [{ name: 'topStat', data: r.topStat.values }] : []),
    ...(r.topTfce ? [{ name: 'topTfce', data: r.topTfce.values }] : []),
  ];
  const out = resultPath(job, t.task);
  writeFileAtomic(
    out,
    encodeResult(
      {
        job: t.job,
        task: t.task,
        first: w.first,
        count: w.count,
        rearrangements: w.rearrangements,
        ...(sh ? { v0: sh.v0, v1: sh.v1 } : {}),
      },
      sections,
    ),
  );
  return out;
}

/**
 * Read the results of all tasks as shares for the reduce (one per block of rearrangements),
 * checking each belongs to its task. Tasks that own voxel ranges of the same rearrangements are
 * combined: the maximum over the ranges (a maximum of maxima is the maximum), each range's counts
 * in place; one task's result is held at a time.
 */
export function readPermutationShares(job: JobFolder, tasks: TaskFile<PermuteWork>[]): BatchResult[] {
  const shares: BatchResult[] = [];
  for (const t of tasks) {
    const r = readPermutationShare(job, t);
    const sh = t.work.shared;
    if (!sh || (sh.v0 === 0 && sh.v1 === sh.V)) {
      foldTop(shares[0], r);
      shares.push(r);
      continue;
    }
    // a range's kept values are -Infinity outside it: folded like a whole task's
    foldTop(shares[0], r);
    let s = shares.at(-1);
    if (!s || s.first !== r.first) {
      s = { ...r, countStat: new Uint32Array(sh.V), countTfce: null };
      shares.push(s);
    } else {
      for (const k of ['maxStat', 'maxTfce', 'maxExtent', 'maxMass'] as const) {
        const into = s[k];
        const from = r[k];
        for (let i = 0; i < into.length; i++) if (from[i] > into[i]) into[i] = from[i];
      }
    }
    s.countStat.set(r.countStat, sh.v0);
  }
  return shares;
}

/** A share's kept values once they are folded into another share's. */
const NO_TOP: TopValues = { keep: 0, values: new Float32Array(0) };

/**
 * Fold a share's kept values (accel tail/gamma) into the first share's: the largest values of a
 * union are the largest of the parts' largest, whatever the order, so the merge's result is the
 * same, with one reservoir in memory (~250 MB per map at 617k voxels) instead of one per task.
 */
function foldTop(into: BatchResult | undefined, r: BatchResult): void {
  if (!into || into === r || !into.topStat || !r.topStat) return;
  mergeTop(into.topStat, r.topStat);
  r.topStat = NO_TOP;
  if (into.topTfce && r.topTfce) {
    mergeTop(into.topTfce, r.topTfce);
    r.topTfce = NO_TOP;
  }
}

/** One task's result, checked to belong to its task. */
function readPermutationShare(job: JobFolder, t: TaskFile<PermuteWork>): BatchResult {
  const p = resultPath(job, t.task);
  const { meta, sections } = decodeResult(readFileSync(p), p);
  const sh = t.work.shared;
  if (
    meta.job !== t.job ||
    meta.task !== t.task ||
    meta.first !== t.work.first ||
    meta.count !== t.work.count ||
    meta.v0 !== sh?.v0 ||
    meta.v1 !== sh?.v1
  ) {
    throw new VbmError(
      `task result ${p} is not the result of ${join(job.dir, `task_${t.task}`)}`,
      'delete it and run the command again',
    );
  }
  const f = (n: string): Float64Array => sections.get(n) as Float64Array;
  const top = (n: string): TopValues | null => {
    const values = sections.get(n) as Float32Array | undefined;
    return values ? { keep: TAIL_KEEP, values } : null;
  };
  const topOf = (a: string, b: string): Pick<BatchResult, 'topStat' | 'topTfce'> =>
    sections.has(a) ? { topStat: top(a), topTfce: top(b) } : {};
  const r: BatchResult = {
    first: t.work.first,
    count: t.work.count,
    maxStat: f('maxStat'),
    maxTfce: f('maxTfce'),
    maxExtent: f('maxExtent'),
    maxMass: f('maxMass'),
    countStat: sections.get('countStat') as Uint32Array,
    countTfce: (sections.get('countTfce') as Uint32Array | undefined) ?? null,
    ...topOf('topStat', 'topTfce'),
  };
  return r;
}

export interface DistributedPermuteOutput {
  job: JobFolder;
  outcome: JobOutcome;
  /** The merged outputs, when the tasks were waited for. */
  output?: PermuteOutput;
}

/**
 * `vbm permute --backend ...`: write the tasks, run the missing ones on the backend, and (when
 * waiting) merge their results into the same files a local run writes.
 */
export async function distributedPermute(
  dir: string,
  req: PermuteRequest,
  settings: BackendSettings,
  opts: Omit<RunJobOptions, 'retries' | 'wait'> & { runner?: TaskRunner } = {},
): Promise<DistributedPermuteOutput> {
  if (req.accel?.stop) return permuteInWaves(dir, req, settings, opts);
  const { job, tasks, scratch } = planPermutationJob(dir, req, settings.jobs, settings);
  const runner = opts.runner ?? runnerFor(settings);
  if (scratch) {
    // first the job that writes the scratch file every task streams
    writeJobRecord(scratch.job, {
      kind: 'permute-scratch',
      backend: settings.type,
      contrast: scratch.task.work.options.contrast,
      bytes: scratch.task.work.plan.fileBytes,
    });
    writeTaskFiles(scratch.job, [scratch.task]);
    // the file is removed after a merge: write it again if tasks still need it
    if (!existsSync(scratch.task.work.file) && finishedTasks(job).size < job.tasks)
      rmSync(resultPath(scratch.job, 0), { force: true });
    req.onNote?.(
      `the permutation data exceed a task's memory: one task writes them to ${scratch.task.work.file} (${(scratch.task.work.plan.fileBytes / 2 ** 30).toFixed(2)} GB, ${scratch.task.work.plan.blocks.length} voxel blocks) and ${job.tasks} tasks stream it`,
    );
    const first = await runJob(scratch.job, runner, { ...opts, retries: settings.retries, wait: settings.wait });
    if (!first.complete) return { job: scratch.job, outcome: first };
  }
  writeJobRecord(job, {
    kind: 'permute',
    backend: settings.type,
    contrast: tasks[0].work.options.contrast,
    rearrangements: tasks[0].work.rearrangements,
  });
  writeTaskFiles(job, tasks);
  const outcome = await runJob(job, runner, { ...opts, retries: settings.retries, wait: settings.wait });
  if (!outcome.complete) return { job, outcome };
  const shares = readPermutationShares(job, tasks);
  req.onNote?.(`merging the results of ${tasks.length} task${tasks.length > 1 ? 's' : ''} (${job.dir})`);
  // with a shared scratch file, the observed maps come from its preparation: no scan is read again
  const sharedScratch = scratch ? sharedScratchOf(scratch.task.analysis, tasks[0].work.shared!) : undefined;
  const output = await runPermute(dir, { ...req, workers: 0, shares, ...(sharedScratch ? { sharedScratch } : {}) });
  if (scratch) rmSync(scratch.task.work.file, { force: true });
  return { job, outcome, output };
}

/**
 * Sequential stopping on a backend: one job per wave of the stopping schedule, the rule decided
 * on the merged maxima after each wave (stopReached, as one process decides it), then the merge of
 * every wave run. Run again after --no-wait, the waves already done are found by their job keys.
 */
async function permuteInWaves(
  dir: string,
  req: PermuteRequest,
  settings: BackendSettings,
  opts: Omit<RunJobOptions, 'retries' | 'wait'> & { runner?: TaskRunner },
): Promise<DistributedPermuteOutput> {
  const accel = req.accel ?? {};
  // the analysis opened, the rearrangements planned and the inputs hashed once for every wave
  const basis = permutationJobBasis(dir, req);
  const N = basis.N;
  const points = stopSchedule(N, PERMUTATION_CHUNK, accel.minPermutations ?? 100);
  // the FWE level runPermute hands the test
  const alpha = accel.alpha ?? req.alpha ?? defaultOf(PERMUTE.alpha);
  const runner = opts.runner ?? runnerFor(settings);
  const maxima = {
    stat: new Float64Array(N),
    tfce: req.tfce ? new Float64Array(N) : null,
    extent: req.clusterThreshold !== undefined ? new Float64Array(N) : null,
    mass: req.clusterThreshold !== undefined ? new Float64Array(N) : null,
  };
  const shares: BatchResult[] = [];
  let first = 0;
  let last: { job: JobFolder; outcome: JobOutcome } | undefined;
  let jobs = 0;
  for (const point of points) {
    const { job, tasks } = permutationJob(basis, settings.jobs, undefined, { first, end: point });
    writeJobRecord(job, {
      kind: 'permute',
      backend: settings.type,
      contrast: tasks[0].work.options.contrast,
      rearrangements: N,
      wave: [first, point],
    });
    writeTaskFiles(job, tasks);
    if (first > 0)
      req.onNote?.(`sequential stopping: ${first} of ${N} rearrangements leave it open; next wave up to ${point}`);
    // Slurm: the first wave's probe showed the nodes see the analysis folder the later waves' jobs are in
    const probe = first === 0 ? opts.probe : false;
    const outcome = await runJob(job, runner, { ...opts, probe, retries: settings.retries, wait: settings.wait });
    last = { job, outcome };
    if (!outcome.complete) return last;
    for (const s of readPermutationShares(job, tasks)) {
      foldTop(shares[0], s);
      shares.push(s);
      maxima.stat.set(s.maxStat, s.first);
      maxima.tfce?.set(s.maxTfce, s.first);
      maxima.extent?.set(s.maxExtent, s.first);
      maxima.mass?.set(s.maxMass, s.first);
    }
    jobs += tasks.length;
    first = point;
    if (point < N && stopReached([maxima.stat, maxima.tfce, maxima.extent, maxima.mass], point, alpha)) break;
  }
  req.onNote?.(`merging the results of ${jobs} tasks in waves up to ${first} of ${N} rearrangements`);
  const output = await runPermute(dir, { ...req, workers: 0, shares });
  return { ...last!, output };
}

/** `vbm task FILE`: run one task file (any kind). */
export async function runTaskFile(
  path: string,
  t: TaskFile,
  opts: { workers?: number; onNote?: (m: string) => void },
): Promise<string> {
  const job = jobFolder(t.analysis, t.job, t.tasks);
  if (!existsSync(job.dir))
    throw new VbmError(
      `task ${path}: its job folder ${job.dir} is not visible here`,
      'vbm assumes a filesystem shared by every node',
    );
  if (t.kind === 'permute') return runPermutationTask(t as TaskFile<PermuteWork>, job, opts);
  if (t.kind === 'fit') return runFitTask(t as TaskFile<FitWork>, job);
  if (t.kind === 'permute-scratch') return runScratchTask(t as TaskFile<ScratchWork>, job, opts);
  throw new VbmError(`task ${path}: unknown kind '${t.kind}'`, 'run it with the vbm version that wrote it');
}
