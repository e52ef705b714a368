/**
 * Not waiting (`--no-wait` on Slurm): a dependent job (`sbatch --dependency=afterany:...`) runs
 * the submitting command again once every task it submitted has ended, so the outputs appear
 * without the user running anything. The command finds the tasks' results, merges them and goes
 * on (and, when a later stage submits tasks in turn, leaves another reduce job behind it). It is
 * recorded in each job folder (`vbm show` reports it, `vbm cancel` cancels it). When a task has
 * failed, the command run by the reduce job (it knows by REDUCE_ENV) submits it again, with a new
 * reduce job behind it, until it has been tried `--retries` + 1 times; then it fails with the
 * task's log, and `vbm show` reports the reduce job as failed. Running the command again by hand
 * resubmits the missing tasks and replaces a reduce job that has not started.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import type { BackendSettings } from './backend.js';
import { sbatchOptions, slurmCommand, slurmJobName, slurmJobNames } from './slurm.js';
import { type JobFolder, jobFolder, readSubmissions, recordSubmission } from './taskFiles.js';
import { dirname, basename } from 'node:path';

const REDUCE_SCRIPT = `#!/bin/sh
# Written by vbm: runs the submitting command again (every word an argument) once its tasks have ended.
# VBM_REDUCE tells it that it runs as this job: a failed task is submitted again at most --retries times.
set -eu
export VBM_REDUCE=1
exec "$@"
`;

/** The job folder at `dir` (…/vbm-tasks/<name>), with its task count from job.json. */
export function openJobFolder(dir: string): JobFolder {
  const p = join(dir, 'job.json');
  if (!existsSync(p)) throw new VbmError(`${dir} is not a vbm job folder (no job.json)`);
  const j = JSON.parse(readFileSync(p, 'utf8')) as { tasks: number };
  return jobFolder(dirname(dirname(dir)), basename(dir), j.tasks);
}

const reduceName = (job: JobFolder): string => `${slurmJobName(job)}-reduce`;

/** Ids of the Slurm jobs with these names that are in the queue now. */
async function queued(names: string[]): Promise<Set<string>> {
  const text = await slurmCommand('squeue', ['--noheader', '--format=%F', `--name=${names.join(',')}`]);
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

/**
 * Submit the reduce job of these job folders' tasks: it waits (afterany) for every array of theirs
 * still in the queue and then runs `command` (argv after the node binary) in `command.cwd`.
 * Reduce jobs they had before and that have not started are cancelled first. Returns its id.
 */
export async function submitReduce(
  jobDirs: string[],
  settings: BackendSettings,
  command: { argv: string[]; cwd: string },
): Promise<string> {
  const jobs = jobDirs.map(openJobFolder);
  const ownArrays = new Set(
    jobs.flatMap((j) =>
      readSubmissions(j)
        .filter((s) => s.backend === 'slurm' && s.tasks.length)
        .map((s) => s.id),
    ),
  );
  const live = [...(await queued(jobs.flatMap(slurmJobNames)))].filter((id) => ownArrays.has(id));
  const oldReduce = jobs.flatMap((j) =>
    readSubmissions(j)
      .filter((s) => s.role === 'reduce')
      .map((s) => s.id),
  );
  // not this process's own job, when a reduce job submits tasks again and then its successor
  const stale = [...(await queued(jobs.map(reduceName)))].filter(
    (id) => oldReduce.includes(id) && id !== process.env.SLURM_JOB_ID,
  );
  if (stale.length) await slurmCommand('scancel', stale);
  const first = jobs[0];
  const script = join(first.dir, 'reduce.sh');
  if (!existsSync(script) || readFileSync(script, 'utf8') !== REDUCE_SCRIPT) writeFileAtomic(script, REDUCE_SCRIPT);
  const log = join(first.dir, 'logs', 'reduce.log');
  const args = [
    '--parsable',
    `--job-name=${reduceName(first)}`,
    '--output',
    log.replaceAll('%', '%%'),
    '--open-mode=append',
    '--chdir',
    command.cwd,
    ...(live.length ? [`--dependency=afterany:${live.join(':')}`] : []),
    ...sbatchOptions(settings),
    script,
    process.execPath,
    ...command.argv,
  ];
  const out = await slurmCommand('sbatch', args);
  const id = out.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new VbmError(`sbatch answered '${out.trim()}' instead of a job id`);
  const at = new Date().toISOString();
  for (const j of jobs) recordSubmission(j, { backend: 'slurm', id, tasks: [], attempt: 0, at, role: 'reduce', log });
  return id;
}
