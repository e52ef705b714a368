/**
 * The memory budget of a permutation test (`--memory 8G`, `memory: 8G`): sizes as users write them
 * (Slurm's and GNU's K/M/G/T suffixes, powers of 1024), and the default: half of the machine's
 * memory, or, inside a Slurm task, the task's memory (SLURM_MEM_PER_NODE, or SLURM_MEM_PER_CPU
 * times the task's CPUs, both in megabytes) less an allowance for the Node runtime.
 */
import { totalmem } from 'node:os';
import { VbmError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes of a size such as 8G, 512M, 1.5G, 64K or 1073741824; `where` names the setting in messages. */
export function parseMemorySize(text: string | number, where = '--memory'): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text > 0) return Math.floor(text);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
    if (m) {
      const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
      if (bytes > 0) return bytes;
    }
  }
  throw new VbmError(
    `${where}: '${String(text)}' is not a memory size`,
    'write a number with K, M, G or T (powers of 1024), e.g. 8G or 512M',
  );
}

/** What the Node runtime itself takes in a Slurm task (code, heaps, threads), kept out of the data's budget. */
export const RUNTIME_ALLOWANCE = 256 * 2 ** 20;

/** The default budget from the environment (a Slurm task's memory) or the machine's memory. */
export function defaultMemoryBudget(env: Record<string, string | undefined>, machineBytes: number): number {
  const mb = (s: string | undefined): number => (s && /^\d+$/.test(s) ? Number(s) * 2 ** 20 : 0);
  let task = mb(env.SLURM_MEM_PER_NODE);
  if (!task && env.SLURM_MEM_PER_CPU) {
    const cpus = Number(env.SLURM_CPUS_PER_TASK ?? env.SLURM_CPUS_ON_NODE ?? 1) || 1;
    task = mb(env.SLURM_MEM_PER_CPU) * cpus;
  }
  if (task && env.SLURM_JOB_ID) return Math.max(task - RUNTIME_ALLOWANCE, Math.floor(task / 2));
  return Math.floor(machineBytes / 2);
}

/** The budget this process runs with when none is given. */
export function machineMemoryBudget(): number {
  return defaultMemoryBudget(process.env, totalmem());
}

export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MB`;
  return `${(b / 2 ** 10).toFixed(1)} KB`;
}
