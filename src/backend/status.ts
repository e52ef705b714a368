/**
 * `vbm show` and `vbm cancel` for the jobs of an analysis folder: per task done, pending,
 * running, failed (submitted, gone from the queue without a result; with Slurm's state and exit
 * code from sacct) or not submitted, with its log; and the reduce job that --no-wait left.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../report/textTable.js';
import { jobStatus } from './runJob.js';
import { SlurmRunner, jobEnd, taskEnds } from './slurm.js';
import { type JobFolder, listJobs, readSubmissions } from './taskFiles.js';

export interface JobState {
  job: JobFolder;
  backend: string;
  slurmJobs: string[];
  /** `ended`: how a failed task ended, as sacct reports it (state and exit code), when it knows. */
  tasks: { task: number; status: string; log: string; ended?: string }[];
  /** The reduce job (--no-wait on Slurm) and its state: in the queue (with Slurm's reason) or how it ended. */
  reduce?: { id: string; state: string; reason?: string; exitCode?: string; log?: string };
}

/** The state of every task of the jobs submitted from an analysis folder (done, pending, running, failed, not submitted), for `vbm show`. */
export async function jobStates(analysisDir: string): Promise<JobState[]> {
  const out: JobState[] = [];
  for (const job of listJobs(analysisDir)) {
    const subs = readSubmissions(job);
    const slurmJobs = [...new Set(subs.filter((s) => s.backend === 'slurm' && s.tasks.length).map((s) => s.id))];
    const submitted = new Set(subs.flatMap((s) => s.tasks));
    const runner: SlurmRunner | undefined = slurmJobs.length
      ? new SlurmRunner({ type: 'slurm', jobs: job.tasks })
      : undefined;
    let tasks: JobState['tasks'];
    try {
      tasks = await jobStatus(job, runner, submitted);
    } catch {
      // no Slurm client here: say what the files say
      tasks = (await jobStatus(job, undefined, new Set())).map((t) => ({
        ...t,
        status: t.status === 'done' ? 'done' : 'unknown (squeue failed)',
      }));
    }
    const backend = subs.length ? subs[subs.length - 1].backend : 'none';
    let reduce: JobState['reduce'];
    if (runner) {
      try {
        if (tasks.some((t) => t.status === 'failed')) {
          const ends = await taskEnds(job);
          tasks = tasks.map((t) => {
            const e = t.status === 'failed' ? ends.get(t.task) : undefined;
            return e ? { ...t, ended: `Slurm ${e.state}, exit code ${e.exitCode}` } : t;
          });
        }
        const r = subs.filter((s) => s.role === 'reduce').at(-1);
        if (r)
          reduce = {
            id: r.id,
            ...((await jobEnd(r.id)) ?? { state: 'unknown (left the queue; no sacct record)' }),
            ...(r.log ? { log: r.log } : {}),
          };
      } catch {
        /* sacct or squeue failed: the files' view stands */
      }
    }
    out.push({ job, backend, slurmJobs, tasks, ...(reduce ? { reduce } : {}) });
  }
  return out;
}

export function describeJobStates(states: JobState[]): string {
  return states
    .map((s) => {
      const done = s.tasks.filter((t) => t.status === 'done').length;
      const head = `Job ${s.job.name} (${s.backend}${s.slurmJobs.length ? `, Slurm job ${s.slurmJobs.join(', ')}` : ''}): ${done} of ${s.job.tasks} tasks done`;
      const r = s.reduce;
      const reduce = r
        ? `\nreduce: Slurm job ${r.id} ${r.state}${r.reason ? ` (${r.reason})` : ''}${r.exitCode ? `, exit code ${r.exitCode}` : ''}${r.log ? `; log ${r.log}` : ''}${r.reason === 'DependencyNeverSatisfied' ? ': a task failed; the same command run again resubmits it and replaces this job' : ''}${r.state === 'FAILED' ? ': a task failed every attempt (see this log); the same command run again resubmits it' : ''}`
        : '';
      return (
        head +
        reduce +
        '\n' +
        formatTable(
          ['task', 'state', 'log'],
          s.tasks.map((t) => [String(t.task), t.ended ? `${t.status} (${t.ended})` : t.status, t.log]),
        )
      );
    })
    .join('\n\n');
}

/**
 * `vbm show` of a folder that has no model yet because its fit runs as tasks (--no-wait): the
 * jobs of the folder, or of its models' subfolders; undefined when there are none.
 */
export async function tasksBeforeModel(dir: string): Promise<string | undefined> {
  const dirs = [dir, ...(existsSync(dir) ? readdirSync(dir).map((d) => join(dir, d)) : [])].filter(
    (d) => listJobs(d).length,
  );
  if (!dirs.length) return undefined;
  const parts: string[] = [];
  for (const d of dirs) {
    parts.push(
      `${d}: no model yet (the fit is submitted as tasks)\n\nTasks:\n${describeJobStates(await jobStates(d))}\n`,
    );
  }
  return parts.join('\n');
}

/** scancel every Slurm job of the folder's task jobs; returns the job ids cancelled. */
export async function cancelJobs(analysisDir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const job of listJobs(analysisDir)) {
    const own = [
      ...new Set(
        readSubmissions(job)
          .filter((s) => s.backend === 'slurm')
          .map((s) => s.id),
      ),
    ];
    if (!own.length) continue;
    await new SlurmRunner({ type: 'slurm', jobs: job.tasks }).cancel(job);
    ids.push(...own);
  }
  return ids;
}
