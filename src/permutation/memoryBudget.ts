/**
 * The default memory budget of a permutation test (a Node shell: it reads the machine's memory and
 * the environment): half of the machine's memory, or, inside a Slurm task, the task's memory
 * (SLURM_MEM_PER_NODE, or SLURM_MEM_PER_CPU times the task's CPUs, both in megabytes) less an
 * allowance for the Node runtime. Sizes as users write them (`--memory 8G`, `memory: 8G`) are read
 * by the settings vocabulary (RUN.memory, a byte size: settings/setting.ts's parseByteSize).
 */
import { totalmem } from 'node:os';

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
