/**
 * Permutation data larger than a task's memory, as tasks: the scratch file of voxel blocks
 * (permutation/voxelBlocks.ts) is written once, by a job of one task ("permscratch_..."), which
 * reads the scans, writes them in blocks, reduces them to the nuisance model's residuals and
 * records the residuals' sums of squares and the observed statistic map as its result. Every
 * permutation task then streams that file as it is (no task reads the scans), and the merge takes
 * the observed maps from the same result. With maximum statistics alone (no TFCE, no cluster
 * statistics, which need whole maps) a task owns a (rearrangement block, voxel-block range) pair:
 * it writes each rearrangement's maximum over its voxels and its voxels' exceedance counts, and
 * the merge takes the maximum over the voxel ranges, so the outputs are the same bytes as one
 * process's.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { openAnalysis } from '../pipeline/analysis.js';
import { prepareContrastScratch } from '../pipeline/permuteInput.js';
import type { PreparedScratch, SharedScratch } from '../permutation/permute.js';
import { defaultMemoryBudget, machineMemoryBudget } from '../permutation/memoryBudget.js';
import { type MemoryNeeds, type StreamPlan, planVoxelBlocks } from '../permutation/voxelBlocks.js';
import { tailFitsBudget, tailKeepBytes } from '../permutation/voxelTail.js';
import type { BackendSettings } from './backend.js';
import type { PermuteWork } from './permuteTasks.js';
import {
  type JobFolder,
  type TaskFile,
  type TaskInput,
  TASK_FORMAT,
  checkInputs,
  decodeResult,
  encodeResult,
  jobFolder,
  readTaskFile,
  resultPath,
  taskPath,
} from './taskFiles.js';

/** The shared scratch file's name in its job folder. */
export const SCRATCH_FILE = 'data.scratch';

/** The work of the task that writes the shared scratch file. */
export interface ScratchWork {
  options: PermuteWork['options'];
  plan: StreamPlan;
  file: string;
}

/** What a permutation task that streams a shared scratch file reads, and the voxels it owns. */
export interface SharedWork {
  /** The job that wrote the file (its one task's result holds the prepared sums and observed map). */
  job: string;
  file: string;
  /** The plan's voxel blocks this task owns, and their voxels [v0, v1) of V. */
  blocks: { first: number; count: number };
  v0: number;
  v1: number;
  V: number;
}

/** Megabytes of sbatch's --mem (a number with an optional K, M, G or T; megabytes when bare), or undefined. */
export function sbatchMemMB(mem: string | undefined): number | undefined {
  const m = mem === undefined ? null : /^(\d+)([KMGT]?)B?$/i.exec(mem.trim());
  if (!m) return undefined;
  const unit = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, '': 1 }[m[2].toUpperCase() as 'K' | 'M' | 'G' | 'T' | ''];
  return Math.floor(Number(m[1]) * unit);
}

/**
 * A task's memory budget as the submitting command can know it: --memory, else the Slurm task's
 * --mem (less the Node allowance, as inside the task), else (local tasks) this machine's default;
 * undefined when only the task itself can tell (Slurm without --mem).
 */
export function taskBudget(memory: number | undefined, settings: BackendSettings | undefined): number | undefined {
  if (memory !== undefined) return memory;
  if (!settings) return undefined;
  const mb = sbatchMemMB(settings.mem);
  if (settings.type === 'slurm')
    return mb ? defaultMemoryBudget({ SLURM_MEM_PER_NODE: String(mb), SLURM_JOB_ID: 'task' }, 0) : undefined;
  return machineMemoryBudget();
}

/** Worker threads of one task: local, an equal share of the cores; Slurm, its --cpus-per-task (default 1). */
export function taskThreads(settings: BackendSettings | undefined, jobs: number): number {
  if (!settings || settings.type === 'local') return Math.max(1, Math.floor(availableParallelism() / jobs));
  for (const a of settings.sbatchArgs ?? []) {
    const m = /^--cpus-per-task=(\d+)$/.exec(a);
    if (m) return Math.max(1, Number(m[1]));
  }
  return 1;
}

/**
 * The voxel-block plan of a task, or null when the task holds the data in memory (or cannot be known
 * here). `keepsTail` (accel tail/gamma): the uncorrected tail's kept values come out of the budget
 * before the blocks, as in one process (permutationTest.ts), unless the task will count instead.
 */
export function taskStreamPlan(needs: MemoryNeeds, budget: number | undefined, keepsTail = false): StreamPlan | null {
  if (budget === undefined) return null;
  const tail = keepsTail ? tailKeepBytes(needs.V, needs.tfce) : 0;
  return planVoxelBlocks(needs, tailFitsBudget(tail, budget) ? budget - tail : budget);
}

/**
 * How T tasks share the work: P rearrangement blocks times B voxel-block ranges. Voxels are split
 * first (each task then reads only its part of the file per pass), only with maximum statistics.
 */
export function splitWork(jobs: number, chunks: number, plan: StreamPlan | null): { P: number; B: number } {
  const B = plan && !plan.wholeMaps ? Math.max(1, Math.min(plan.blocks.length, jobs)) : 1;
  return { P: Math.max(1, Math.min(chunks, Math.floor(jobs / B))), B };
}

/** The voxel-block range b of B over the plan's blocks, with its voxels. */
export function blockRange(plan: StreamPlan, b: number, B: number, V: number): Omit<SharedWork, 'job' | 'file'> {
  const nb = plan.blocks.length;
  const first = Math.floor((b * nb) / B);
  const end = Math.floor(((b + 1) * nb) / B);
  const head = plan.blocks[first];
  const last = plan.blocks[end - 1];
  return { blocks: { first, count: end - first }, v0: head.v0, v1: last.v0 + last.V, V };
}

/** The one task that writes the shared file, in a job of its own. */
export function scratchJob(
  analysisDir: string,
  key: string,
  options: PermuteWork['options'],
  plan: StreamPlan,
  inputs: TaskInput[],
): { job: JobFolder; task: TaskFile<ScratchWork> } {
  const job = jobFolder(analysisDir, `permscratch_${String(options.contrast).padStart(4, '0')}_${key}`, 1);
  const task: TaskFile<ScratchWork> = {
    format: TASK_FORMAT,
    kind: 'permute-scratch',
    job: job.name,
    task: 0,
    tasks: 1,
    analysis: analysisDir,
    inputs,
    work: { options, plan, file: join(job.dir, SCRATCH_FILE) },
  };
  return { job, task };
}

/** Run the task that writes the shared file; its result holds the residuals' sums of squares and the observed map. */
export async function runScratchTask(
  t: TaskFile<ScratchWork>,
  job: JobFolder,
  opts: { workers?: number; onNote?: (m: string) => void },
): Promise<string> {
  checkInputs(t);
  const a = openAnalysis(t.analysis);
  const w = t.work;
  const p = await prepareContrastScratch(
    a,
    { ...w.options, workers: opts.workers, onNote: opts.onNote },
    { locator: w.file, plan: w.plan },
  );
  const out = resultPath(job, t.task);
  writeFileAtomic(
    out,
    encodeResult({ job: t.job, task: t.task, file: w.file, fileBytes: w.plan.fileBytes }, [
      { name: 'ssTotal', data: p.ssTotal },
      { name: 'stat', data: p.stat },
    ]),
  );
  return out;
}

/** The shared file as a permutation test streams it: its plan and prepared sums (from the writing task's files). */
export function sharedScratchOf(analysisDir: string, s: Pick<SharedWork, 'job' | 'file'>): SharedScratch {
  const job = jobFolder(analysisDir, s.job, 1);
  const t = readTaskFile(taskPath(job, 0)) as TaskFile<ScratchWork>;
  const p = resultPath(job, 0);
  let bytes: Buffer;
  try {
    bytes = readFileSync(p);
  } catch {
    throw new VbmError(
      `the shared scratch file's job ${job.dir} has no result (${p})`,
      'run the submitting command again: it writes the file first',
    );
  }
  const { meta, sections } = decodeResult(bytes, p);
  if (meta.job !== t.job || meta.file !== s.file || t.work.file !== s.file)
    throw new VbmError(
      `${p} is not the result of the job that writes ${s.file}`,
      'delete it and run the command again',
    );
  const prepared: PreparedScratch = {
    ssTotal: sections.get('ssTotal') as Float64Array,
    stat: sections.get('stat') as Float32Array,
  };
  return { locator: s.file, plan: t.work.plan, prepared };
}
