/**
 * Run a job's tasks on a backend: submit only the tasks that have neither a result nor a live
 * submission, then (when waiting) follow them, submit failed ones again (`retries` times) and
 * report the ones that still fail with their log and the command that reruns them.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VbmError } from '../errors.js';
import type { ActiveState, TaskRunner } from './backend.js';
import { type SlurmEnd, SlurmRunner, taskEnds } from './slurm.js';
import {
  type JobFolder,
  MERGED,
  finishedTasks,
  logPath,
  readSubmissions,
  recordSubmission,
  taskPath,
} from './taskFiles.js';

/** Set (to 1) in the environment of the command that a --no-wait reduce job runs again (reduceJob.ts). */
export const REDUCE_ENV = 'VBM_REDUCE';

/** How a job runs: retries, waiting, progress, cancellation and what to do on Ctrl-C. */
export interface RunJobOptions {
  retries?: number;
  wait?: boolean;
  /** Milliseconds between looks at the queue (default 300). */
  pollMs?: number;
  /** Slurm: submit a probe job that checks the nodes see the job folder (default true). */
  probe?: boolean;
  /** What reruns the missing tasks (shown when tasks fail), e.g. the user's command. */
  rerun?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  onNote?: (message: string) => void;
  /** Interrupted while waiting for Slurm tasks: whether to cancel them (default: leave them running). */
  onInterrupt?: () => Promise<'cancel' | 'leave'>;
  /** Called after each submission (tests use it to stop a task). */
  onSubmit?: (id: string, tasks: number[], attempt: number) => void;
}

/** Which tasks of a job were already done, submitted, finished and failed. */
export interface JobOutcome {
  /** Tasks that had a result before this command. */
  alreadyDone: number[];
  /** Tasks this command submitted first (not counting retries). */
  submitted: number[];
  /** Tasks submitted again after failing. */
  retried: number[];
  /** Tasks left running by an earlier command and followed by this one. */
  adopted: number[];
  /** All tasks have results (false with wait: false). */
  complete: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a job's missing tasks on a backend: submit, wait, retry failed tasks, and say which are done. */
export async function runJob(job: JobFolder, runner: TaskRunner, opts: RunJobOptions = {}): Promise<JobOutcome> {
  const retries = opts.retries ?? 1;
  const all = [...Array(job.tasks).keys()];
  let active = await runner.active(job);
  let done = finishedTasks(job);
  const alreadyDone = all.filter((t) => done.has(t));
  const adopted = all.filter((t) => !done.has(t) && active.has(t));
  const missing = all.filter((t) => !done.has(t) && !active.has(t));
  const attempts = new Map<number, number>();
  for (const t of adopted) attempts.set(t, 1);
  // run by a --no-wait reduce job: the tasks' earlier submissions count as attempts
  let attempt = 1;
  if (opts.wait === false && process.env[REDUCE_ENV] === '1' && missing.length) {
    const tried = new Map<number, number>();
    for (const s of readSubmissions(job)) for (const t of s.tasks) tried.set(t, (tried.get(t) ?? 0) + 1);
    const spent = missing.filter((t) => (tried.get(t) ?? 0) > retries);
    if (spent.length) {
      const ends = runner instanceof SlurmRunner ? await taskEnds(job).catch(() => undefined) : undefined;
      const lines = spent.map((t) => {
        const e = ends?.get(t);
        return `  task ${t}: failed ${tried.get(t)} time(s)${e ? ` (Slurm ${e.state}, exit code ${e.exitCode})` : ''}; log ${logPath(job, t)}; rerun it alone with: vbm task ${taskPath(job, t)}`;
      });
      throw new VbmError(
        `${spent.length} of ${job.tasks} tasks of ${job.name} failed ${retries + 1} time(s) (${done.size} finished):\n${lines.join('\n')}`,
        `${opts.rerun ? `\`${opts.rerun}\`` : 'the submitting command'} run again submits the missing tasks and then merges all results`,
      );
    }
    attempt = Math.max(1, ...missing.map((t) => (tried.get(t) ?? 0) + 1));
    const again = missing.filter((t) => tried.has(t));
    if (again.length)
      opts.onNote?.(
        `task${again.length > 1 ? 's' : ''} ${again.join(', ')} of ${job.name} ended without a result; submitting again (attempt ${attempt} of ${retries + 1})`,
      );
  }
  const submit = async (tasks: number[], attempt: number): Promise<void> => {
    const s = await runner.submit(job, tasks, attempt);
    recordSubmission(job, {
      backend: runner.type,
      id: s.id,
      tasks,
      attempt,
      at: new Date().toISOString(),
      ...(s.name ? { name: s.name, index: s.index } : {}),
    });
    for (const t of tasks) attempts.set(t, attempt);
    opts.onSubmit?.(s.id, tasks, attempt);
  };
  let probeId: string | undefined;
  if (missing.length) {
    // the probe first: it takes a node for a moment before the tasks queue up
    if (runner instanceof SlurmRunner && opts.probe !== false && !existsSync(join(job.dir, 'probe.ok'))) {
      probeId = await runner.probe(job);
      recordSubmission(job, {
        backend: 'slurm',
        id: probeId,
        tasks: [],
        attempt: 0,
        at: new Date().toISOString(),
        role: 'probe',
      });
    }
    await submit(missing, attempt);
  }
  if (alreadyDone.length)
    opts.onNote?.(
      `${alreadyDone.length} of ${job.tasks} tasks of ${job.name} already have results; ${missing.length} submitted`,
    );
  if (adopted.length)
    opts.onNote?.(
      `${adopted.length} tasks of ${job.name} submitted earlier are still queued or running: following them`,
    );
  const outcome: JobOutcome = {
    alreadyDone,
    submitted: missing,
    retried: [],
    adopted,
    complete: done.size === job.tasks,
  };
  if (opts.wait === false || outcome.complete) return outcome;

  const failed = new Set<number>();
  const ends = new Map<number, string>();
  const how = (t: number): string => (ends.has(t) ? ` (${ends.get(t)})` : '');
  opts.onProgress?.(done.size, job.tasks);
  let lastDone = done.size;
  for (;;) {
    if (opts.signal?.aborted) {
      if (runner.type === 'local') {
        await runner.cancel(job);
        throw new VbmError(
          `interrupted: ${done.size} of ${job.tasks} tasks had finished; the others were stopped`,
          'run the same command again: only the missing tasks are run',
        );
      }
      if ((await opts.onInterrupt?.()) === 'cancel') {
        await runner.cancel(job);
        throw new VbmError(
          `cancelled the Slurm job of ${job.name} (${done.size} of ${job.tasks} tasks had finished)`,
          'the same command run again submits only the missing tasks',
        );
      }
      throw new VbmError(
        `stopped waiting: ${done.size} of ${job.tasks} tasks have finished and the job keeps running`,
        `\`vbm show ${dirname(dirname(job.dir))}\` follows it, \`vbm cancel ${dirname(dirname(job.dir))}\` stops it, and the same command run again collects the results`,
      );
    }
    await sleep(opts.pollMs ?? 300);
    // the queue first, then the results: a task that finishes in between is seen as done, not lost
    active = await runner.active(job);
    done = finishedTasks(job);
    if (done.size !== lastDone) {
      lastDone = done.size;
      opts.onProgress?.(done.size, job.tasks);
    }
    const gone = all.filter((t) => !done.has(t) && !active.has(t) && !failed.has(t));
    // how they ended, from sacct (the accounting database, or the jobcomp file without one)
    if (gone.length && runner instanceof SlurmRunner) {
      const known = await taskEnds(job).catch(() => new Map<number, SlurmEnd>());
      for (const t of gone) {
        const e = known.get(t);
        if (e) ends.set(t, `Slurm ${e.state}, exit code ${e.exitCode}`);
      }
    }
    const again: number[] = [];
    for (const t of gone) {
      if ((attempts.get(t) ?? 1) <= retries) again.push(t);
      else failed.add(t);
    }
    if (again.length) {
      const attempt = Math.max(...again.map((t) => attempts.get(t) ?? 1)) + 1;
      opts.onNote?.(
        `task${again.length > 1 ? 's' : ''} ${again.map((t) => `${t}${how(t)}`).join(', ')} of ${job.name} failed (see ${again.map((t) => logPath(job, t)).join(', ')}); submitting again (attempt ${attempt} of ${retries + 1})`,
      );
      outcome.retried.push(...again);
      await submit(again, attempt);
    }
    if (probeId && runner instanceof SlurmRunner && !(await runner.probeInQueue(job, probeId))) {
      if (!existsSync(join(job.dir, 'probe.ok'))) {
        await runner.cancel(job);
        throw new VbmError(
          `the probe job ${probeId} ended without writing ${join(job.dir, 'probe.ok')}: the compute nodes do not seem to see the analysis folder (its log: ${join(job.dir, 'logs', 'probe.log')}); the tasks were cancelled`,
          'vbm assumes the analysis folder and the scans are on a filesystem that every node mounts at the same path: put them there',
        );
      }
      probeId = undefined;
    }
    if (done.size + failed.size === job.tasks && ![...active.keys()].some((t) => !done.has(t))) break;
  }
  if (failed.size) {
    const list = [...failed].sort((a, b) => a - b);
    const lines = list.map(
      (t) =>
        `  task ${t}: failed ${attempts.get(t)} time(s)${how(t)}; log ${logPath(job, t)}; rerun it alone with: vbm task ${taskPath(job, t)}`,
    );
    throw new VbmError(
      `${list.length} of ${job.tasks} tasks of ${job.name} failed (${done.size} finished):\n${lines.join('\n')}`,
      `${opts.rerun ? `\`${opts.rerun}\`` : 'the same command'} run again submits only the ${list.length} missing task${list.length > 1 ? 's' : ''} and then merges all results`,
    );
  }
  outcome.complete = true;
  return outcome;
}

/** Per task: done, pending, running, failed (submitted but gone without a result) or not submitted. */
export type TaskStatus = 'done' | ActiveState | 'failed' | 'not submitted';

export async function jobStatus(
  job: JobFolder,
  runner: TaskRunner | undefined,
  submittedTasks: Set<number>,
): Promise<{ task: number; status: TaskStatus; log: string }[]> {
  const active = runner ? await runner.active(job) : new Map<number, ActiveState>();
  const done = finishedTasks(job);
  const merged = existsSync(join(job.dir, MERGED));
  return [...Array(job.tasks).keys()].map((t) => ({
    task: t,
    status: done.has(t) || merged ? 'done' : (active.get(t) ?? (submittedTasks.has(t) ? 'failed' : 'not submitted')),
    log: logPath(job, t),
  }));
}
