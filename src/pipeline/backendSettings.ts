/**
 * Where the heavy work of a command runs: the `--backend ...` flags and the analysis file's
 * `backend:` section, checked as the user wrote them. The backend itself (task files, local
 * processes, Slurm arrays) lives in src/backend/, above the pipeline, which reaches it only
 * through the TaskBackend it is handed (pipeline/taskBackend.ts).
 */
import { defaultOf } from '../settings/setting.js';
import { BACKEND } from '../settings/vocabulary.js';
import { VbmError } from '../errors.js';

export type BackendType = 'local' | 'slurm';

/** Where and how tasks run: the `--backend ...` flags and the analysis file's `backend:` section. */
export interface BackendSettings {
  type: BackendType;
  /** Number of tasks the work is split into (local: also the number run at once). */
  jobs: number;
  /** Slurm only: passed to sbatch as --partition, --time, --mem, --account, then `sbatchArgs` as given. */
  partition?: string;
  time?: string;
  mem?: string;
  account?: string;
  sbatchArgs?: string[];
  /** Times a failed task is submitted again (default 1). */
  retries?: number;
  /** Wait for the tasks and reduce (default true); false returns once they are submitted. */
  wait?: boolean;
}

/** Check settings as the user wrote them (flags or analysis file keys), naming the one that is wrong. */
export function checkBackendSettings(s: BackendSettings, where: string): BackendSettings {
  if (s.type !== 'local' && s.type !== 'slurm')
    throw new VbmError(`${where}: backend '${String(s.type)}' is not one of local, slurm`);
  if (!Number.isInteger(s.jobs) || s.jobs < 1 || s.jobs > 1000)
    throw new VbmError(
      `${where}: jobs must be a whole number from 1 to 1000 (got ${s.jobs})`,
      "Slurm's default MaxArraySize is 1001",
    );
  if (s.retries !== undefined && (!Number.isInteger(s.retries) || s.retries < 0))
    throw new VbmError(`${where}: retries must be a whole number >= 0 (got ${s.retries})`);
  for (const [k, v] of Object.entries({ partition: s.partition, time: s.time, mem: s.mem, account: s.account })) {
    if (v !== undefined && (typeof v !== 'string' || v === '' || v.startsWith('-')))
      throw new VbmError(`${where}: ${k} '${String(v)}' is not a valid value`);
  }
  for (const a of s.sbatchArgs ?? []) {
    if (typeof a !== 'string' || !a.startsWith('--'))
      throw new VbmError(
        `${where}: sbatch argument '${String(a)}' must be one option of the form --name=value`,
        'e.g. --sbatch-arg=--qos=normal',
      );
  }
  if (s.type === 'local' && s.wait === false)
    throw new VbmError(
      `${where}: not waiting (--no-wait) is for the Slurm backend: local tasks are children of the command`,
      'leave it out, or use --backend slurm',
    );
  if (s.type === 'local' && (s.partition || s.time || s.mem || s.account || s.sbatchArgs?.length)) {
    throw new VbmError(
      `${where}: partition, time, mem, account and sbatch arguments are for the Slurm backend`,
      'add --backend slurm, or leave them out',
    );
  }
  return s;
}

/** The analysis file's `backend: {type, jobs, partition, time, mem, account, sbatch_args, retries, wait}` (or just `backend: slurm`). */
export function backendFromFile(raw: unknown, where: string): BackendSettings {
  const w = `${where}: backend`;
  const o = typeof raw === 'string' ? { type: raw } : raw;
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new VbmError(
      `${w}: expected local, slurm or {type, jobs, partition, time, mem, account, sbatch_args, retries, wait}`,
    );
  const allowed = ['type', 'jobs', 'partition', 'time', 'mem', 'account', 'sbatch_args', 'retries', 'wait'];
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r))
    if (!allowed.includes(k)) throw new VbmError(`${w}: unknown key '${k}'`, `allowed keys: ${allowed.join(', ')}`);
  const str = (k: string): string | undefined => {
    if (r[k] === undefined) return undefined;
    if (typeof r[k] !== 'string' && typeof r[k] !== 'number')
      throw new VbmError(`${w}: '${k}' must be text (got ${JSON.stringify(r[k])})`);
    return String(r[k]);
  };
  const int = (k: string, def: number): number => {
    if (r[k] === undefined) return def;
    if (typeof r[k] !== 'number') throw new VbmError(`${w}: '${k}' must be a number (got ${JSON.stringify(r[k])})`);
    return r[k];
  };
  let sbatchArgs: string[] | undefined;
  if (r.sbatch_args !== undefined) {
    if (!Array.isArray(r.sbatch_args) || r.sbatch_args.some((a) => typeof a !== 'string'))
      throw new VbmError(`${w}: 'sbatch_args' must be a list of options, e.g. [--qos=normal]`);
    sbatchArgs = r.sbatch_args as string[];
  }
  if (r.wait !== undefined && typeof r.wait !== 'boolean') throw new VbmError(`${w}: 'wait' must be true or false`);
  return checkBackendSettings(
    {
      type: str('type') as BackendType,
      jobs: int('jobs', defaultOf(BACKEND.jobs)),
      partition: str('partition'),
      time: str('time'),
      mem: str('mem'),
      account: str('account'),
      sbatchArgs,
      retries: int('retries', defaultOf(BACKEND.retries)),
      wait: r.wait,
    },
    w,
  );
}
