/**
 * `vbm show` and `vbm cancel` for the jobs of an analysis folder: per task done, pending,
 * running, failed (submitted, gone from the queue without a result) or not submitted, with its log.
 */
import { formatTable } from '../report/textTable.js';
import { jobStatus } from './runJob.js';
import { SlurmRunner } from './slurm.js';
import { type JobFolder, listJobs, readSubmissions } from './taskFiles.js';

export interface JobState {
  job: JobFolder;
  backend: string;
  slurmJobs: string[];
  tasks: { task: number; status: string; log: string }[];
}

/** The state of every task of the jobs submitted from an analysis folder (done, pending, running, failed, not submitted), for `vbm show`. */
export async function jobStates(analysisDir: string): Promise<JobState[]> {
  const out: JobState[] = [];
  for (const job of listJobs(analysisDir)) {
    const subs = readSubmissions(job);
    const slurmJobs = [...new Set(subs.filter((s) => s.backend === 'slurm').map((s) => s.id))];
    const submitted = new Set(subs.flatMap((s) => s.tasks));
    const runner: SlurmRunner | undefined = slurmJobs.length
      ? new SlurmRunner({ type: 'slurm', jobs: job.tasks })
      : undefined;
    let tasks;
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
    out.push({ job, backend, slurmJobs, tasks });
  }
  return out;
}

export function describeJobStates(states: JobState[]): string {
  return states
    .map((s) => {
      const done = s.tasks.filter((t) => t.status === 'done').length;
      const head = `Job ${s.job.name} (${s.backend}${s.slurmJobs.length ? `, Slurm job ${s.slurmJobs.join(', ')}` : ''}): ${done} of ${s.job.tasks} tasks done`;
      return (
        head +
        '\n' +
        formatTable(
          ['task', 'state', 'log'],
          s.tasks.map((t) => [String(t.task), t.status, t.log]),
        )
      );
    })
    .join('\n\n');
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
