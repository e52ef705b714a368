/**
 * The Slurm backend: a job's tasks are one `sbatch --array` job whose array index is the task
 * number. sbatch, squeue and scancel are run with argument arrays (never a shell line), and the
 * batch script is a fixed text that gets every path as an argument, so no user text is ever
 * interpreted by a shell. vbm assumes the analysis folder is on a filesystem every node sees; a
 * probe job checks it.
 */
import { execFile } from 'node:child_process';
import { sha256Hex } from '../node/contentHash.js';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { type ActiveState, type BackendSettings, type Submitted, type TaskRunner, cliScript } from './backend.js';
import { type JobFolder, logPath, pad4, readSubmissions, taskOfIndex, taskPath } from './taskFiles.js';

const run = promisify(execFile);

const TASK_SCRIPT = `#!/bin/sh
# Written by vbm: runs one task of this job array. Everything variable arrives as an argument:
# $1 node, $2 vbm's CLI script, $3 the job folder. The task number is the array index.
set -eu
task=$(printf '%s/task_%04d.json' "$3" "\${SLURM_ARRAY_TASK_ID:?not started as a Slurm array task}")
# the raw job id of this array element, for sacct -c (the jobcomp file knows no array indices)
echo "\${SLURM_ARRAY_JOB_ID:-} \${SLURM_JOB_ID:-}" >> "$(printf '%s/logs/task_%04d.slurm-ids' "$3" "$SLURM_ARRAY_TASK_ID")"
exec "$1" "$2" task "$task" --workers "\${SLURM_CPUS_PER_TASK:-1}"
`;

const PROBE_SCRIPT = `#!/bin/sh
# Written by vbm: proves that a compute node sees the job folder ($1) by writing a file in it.
set -eu
hostname > "$1/.probe.tmp.$$"
mv "$1/.probe.tmp.$$" "$1/probe.ok"
`;

/** A Slurm filename pattern that means exactly this path (% doubled), with %4a for the array index. */
function logPattern(job: JobFolder): string {
  return join(job.dir, 'logs').replaceAll('%', '%%') + '/task_%4a.log';
}

/** "0-2,5,7-9" for sbatch --array. */
export function arraySpec(tasks: number[]): string {
  const s = [...tasks].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(j > i ? `${s[i]}-${s[j]}` : String(s[i]));
    i = j + 1;
  }
  return parts.join(',');
}

export async function slurmCommand(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new VbmError(
        `${cmd} was not found: the Slurm backend needs Slurm's client commands on this machine`,
        'run vbm on a login node of the cluster, or use --backend local',
      );
    throw new VbmError(
      `${cmd} failed: ${(err.stderr ?? err.message).trim()}`,
      cmd === 'sbatch' ? 'check --partition, --time, --mem, --account and --sbatch-arg' : undefined,
    );
  }
}

/** sbatch's options from the settings, in a fixed order, each as its own argument. */
export function sbatchOptions(s: BackendSettings): string[] {
  const o: string[] = [];
  if (s.partition) o.push(`--partition=${s.partition}`);
  if (s.time) o.push(`--time=${s.time}`);
  if (s.mem) o.push(`--mem=${s.mem}`);
  if (s.account) o.push(`--account=${s.account}`);
  o.push(...(s.sbatchArgs ?? []));
  return o;
}

export const slurmJobName = (job: JobFolder): string => `vbm-${job.name}`;

/** The Slurm job names a job's tasks were submitted under: its own, and those of arrays shared with other jobs. */
export function slurmJobNames(job: JobFolder): string[] {
  return [slurmJobName(job), ...new Set(readSubmissions(job).flatMap((s) => (s.name ? [s.name] : [])))];
}

/** Milliseconds a runner gathers submissions before sbatch, so that the jobs of several models share one array. */
export const GATHER_MS = 400;

/**
 * Runs tasks as a Slurm job array (sbatch), follows them with squeue and cancels them with scancel.
 * Submissions that arrive within GATHER_MS of each other (several models' jobs of one stage, each
 * submitted by its own model's step) go out as one array: its folder in the first job's folder
 * holds, for array index i, links task_000i.json, logs/task_000i.log and .slurm-ids to that task's
 * own files, so the task script and the tasks are the same as for a job's own array.
 */
export class SlurmRunner implements TaskRunner {
  readonly type = 'slurm' as const;
  private gathered: {
    job: JobFolder;
    tasks: number[];
    resolve: (s: Submitted) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  constructor(
    private readonly settings: BackendSettings,
    private readonly gatherMs = GATHER_MS,
  ) {}

  private options(): string[] {
    return sbatchOptions(this.settings);
  }

  submit(job: JobFolder, tasks: number[]): Promise<Submitted> {
    if (this.gatherMs <= 0) return this.submitOwn(job, tasks);
    return new Promise((resolve, reject) => {
      this.gathered.push({ job, tasks, resolve, reject });
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.flush(), this.gatherMs);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.gathered;
    this.gathered = [];
    this.timer = undefined;
    try {
      if (batch.length === 1) {
        const b = batch[0];
        b.resolve(await this.submitOwn(b.job, b.tasks));
        return;
      }
      const out = await this.submitShared(batch);
      batch.forEach((b, i) => b.resolve(out[i]));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }

  private async sbatch(dir: string, name: string, tasks: number[], logs: string): Promise<string> {
    const script = join(dir, 'run-task.sh');
    if (!existsSync(script) || readFileSync(script, 'utf8') !== TASK_SCRIPT) writeFileAtomic(script, TASK_SCRIPT);
    const args = [
      '--parsable',
      `--array=${arraySpec(tasks)}`,
      `--job-name=${name}`,
      '--output',
      logs,
      '--open-mode=append',
      '--chdir',
      dir,
      ...this.options(),
      script,
      process.execPath,
      cliScript(),
      dir,
    ];
    const out = await slurmCommand('sbatch', args);
    const id = out.trim().split(';')[0];
    if (!/^\d+$/.test(id)) throw new VbmError(`sbatch answered '${out.trim()}' instead of a job id`);
    return id;
  }

  /** A job's own array: the array index is the task number. */
  private async submitOwn(job: JobFolder, tasks: number[]): Promise<Submitted> {
    return { id: await this.sbatch(job.dir, slurmJobName(job), tasks, logPattern(job)) };
  }

  /** One array for several jobs' tasks, through a folder of links (index i -> a job's task). */
  private async submitShared(batch: { job: JobFolder; tasks: number[] }[]): Promise<Submitted[]> {
    const key = sha256Hex(JSON.stringify([batch.map((b) => [b.job.dir, b.tasks]), Date.now(), process.pid])).slice(
      0,
      10,
    );
    const name = `vbm-shared_${key}`;
    const dir = join(batch[0].job.dir, `shared_${key}`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    let i = 0;
    const index = batch.map((b) =>
      b.tasks.map((t) => {
        const k = i++;
        symlinkSync(taskPath(b.job, t), join(dir, `task_${pad4(k)}.json`));
        symlinkSync(logPath(b.job, t), join(dir, 'logs', `task_${pad4(k)}.log`));
        symlinkSync(
          join(b.job.dir, 'logs', `task_${pad4(t)}.slurm-ids`),
          join(dir, 'logs', `task_${pad4(k)}.slurm-ids`),
        );
        return k;
      }),
    );
    const pattern = join(dir, 'logs').replaceAll('%', '%%') + '/task_%4a.log';
    const id = await this.sbatch(dir, name, [...Array(i).keys()], pattern);
    return index.map((ix) => ({ id, name, index: ix }));
  }

  /** A one-task job that writes probe.ok in the job folder from a compute node. */
  async probe(job: JobFolder): Promise<string> {
    const script = join(job.dir, 'probe.sh');
    if (!existsSync(script) || readFileSync(script, 'utf8') !== PROBE_SCRIPT) writeFileAtomic(script, PROBE_SCRIPT);
    const args = [
      '--parsable',
      `--job-name=${slurmJobName(job)}-probe`,
      '--output',
      join(job.dir, 'logs').replaceAll('%', '%%') + '/probe.log',
      ...this.options(),
      script,
      job.dir,
    ];
    return (await slurmCommand('sbatch', args)).trim().split(';')[0];
  }

  async active(job: JobFolder): Promise<Map<number, ActiveState>> {
    const subs = readSubmissions(job).filter((s) => s.backend === 'slurm' && s.tasks.length);
    const out = new Map<number, ActiveState>();
    if (!subs.length) return out;
    // by job name (squeue -j fails outright when one id has left Slurm's memory)
    const text = await slurmCommand('squeue', [
      '--noheader',
      '--array',
      `--name=${slurmJobNames(job).join(',')}`,
      '--format=%i|%T',
    ]);
    for (const line of text.split('\n')) {
      const m = /^(\d+)_(\d+)\|(\w+)/.exec(line.trim());
      if (!m) continue;
      const state = m[3] === 'PENDING' || m[3] === 'CONFIGURING' ? 'pending' : 'running';
      for (const s of subs) {
        if (s.id !== m[1]) continue;
        const t = taskOfIndex(s, Number(m[2]));
        if (t !== undefined) out.set(t, state);
      }
    }
    return out;
  }

  /** Whether the job's probe (job id `id`) is still queued or running. */
  async probeInQueue(job: JobFolder, id: string): Promise<boolean> {
    const text = await slurmCommand('squeue', ['--noheader', '--format=%i', `--name=${slurmJobName(job)}-probe`]);
    return text.split('\n').some((l) => l.trim() === id);
  }

  async cancel(job: JobFolder): Promise<void> {
    // an array shared with other jobs: only this job's elements
    const ids = [
      ...new Set(
        readSubmissions(job)
          .filter((s) => s.backend === 'slurm')
          .flatMap((s) => (s.index ? s.index.map((i) => `${s.id}_${i}`) : [s.id])),
      ),
    ];
    if (ids.length) await slurmCommand('scancel', ids);
  }
}

/** How a Slurm job (or array element) ended, as sacct reports it. */
export interface SlurmEnd {
  state: string;
  exitCode: string;
}

/**
 * How the tasks of a job's submissions ended, by task (the last attempt that sacct knows), from
 * Slurm's accounting database when there is one (`sacct -j ARRAY`), else from the jobcomp file
 * (`sacct -c`), whose records carry raw job ids only: the task script writes each element's raw
 * id to logs/task_NNNN.slurm-ids, which maps them back.
 */
export async function taskEnds(job: JobFolder): Promise<Map<number, SlurmEnd>> {
  const arrays = [
    ...new Set(
      readSubmissions(job)
        .filter((s) => s.backend === 'slurm' && s.tasks.length)
        .map((s) => s.id),
    ),
  ];
  const out = new Map<number, SlurmEnd>();
  if (!arrays.length) return out;
  const parse = (text: string): [string, SlurmEnd][] =>
    text
      .split('\n')
      .map((l) => l.trim().split('|'))
      .filter((f) => f.length >= 3 && /^\d/.test(f[0]))
      .map((f) => [f[0], { state: f[1].split(' ')[0], exitCode: f[2] }]);
  try {
    // with an accounting database: one line per array element, "123_4"
    const rows = parse(
      await slurmCommand('sacct', ['-n', '-P', '-X', '-j', arrays.join(','), '-o', 'jobid,state,exitcode']),
    );
    const order = new Map(arrays.map((a, i) => [a, i]));
    const subs = readSubmissions(job).filter((s) => s.backend === 'slurm' && s.tasks.length);
    const best = new Map<number, number>();
    for (const [id, end] of rows) {
      const m = /^(\d+)_(\d+)$/.exec(id);
      if (!m || !order.has(m[1])) continue;
      const t = subs
        .filter((s) => s.id === m[1])
        .map((s) => taskOfIndex(s, Number(m[2])))
        .find((x) => x !== undefined);
      if (t === undefined) continue;
      const rank = order.get(m[1])!;
      if ((best.get(t) ?? -1) <= rank) {
        best.set(t, rank);
        out.set(t, end);
      }
    }
    return out;
  } catch {
    /* no accounting storage: the jobcomp file */
  }
  // raw id -> task, for this job's own arrays, in submission order
  const raw = new Map<string, number>();
  const rawOrder: string[] = [];
  for (let t = 0; t < job.tasks; t++) {
    const p = join(job.dir, 'logs', `task_${String(t).padStart(4, '0')}.slurm-ids`);
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      const [arrayId, rawId] = line.trim().split(' ');
      if (rawId && arrays.includes(arrayId)) {
        raw.set(rawId, t);
        rawOrder.push(rawId);
      }
    }
  }
  if (!raw.size) return out;
  let text: string;
  try {
    text = await slurmCommand('sacct', [
      '-c',
      '-n',
      '-P',
      '-j',
      [...raw.keys()].join(','),
      '-o',
      'jobid,state,exitcode',
    ]);
  } catch {
    return out;
  }
  const ends = new Map(parse(text));
  // later attempts (appended later) win
  for (const rawId of rawOrder) {
    const end = ends.get(rawId);
    if (end) out.set(raw.get(rawId)!, end);
  }
  return out;
}

/** The state of one Slurm job by id: in the queue (with squeue's reason), or how it ended. */
export async function jobEnd(id: string): Promise<{ state: string; reason?: string; exitCode?: string } | undefined> {
  const q = await slurmCommand('squeue', ['--noheader', '--format=%i|%T|%r', '--jobs', id]).catch(() => '');
  const line = q.split('\n').find((l) => l.startsWith(`${id}|`));
  if (line) {
    const [, state, reason] = line.trim().split('|');
    return { state, reason: reason && reason !== 'None' ? reason : undefined };
  }
  for (const args of [
    ['-n', '-P', '-X', '-j', id, '-o', 'jobid,state,exitcode'],
    ['-c', '-n', '-P', '-j', id, '-o', 'jobid,state,exitcode'],
  ]) {
    const text = await slurmCommand('sacct', args).catch(() => '');
    const f = text
      .split('\n')
      .map((l) => l.trim().split('|'))
      .find((x) => x[0] === id);
    if (f) return { state: f[1].split(' ')[0], exitCode: f[2] };
  }
  return undefined;
}
