/**
 * The execution seam: a backend runs a batch of a job's task files (`vbm task FILE` each) and says
 * which of them are still queued or running. Local processes and Slurm job arrays implement it;
 * everything else (which tasks are missing, retries, waiting, reduce) is the same for both.
 */
import { fileURLToPath } from 'node:url';
import { BUNDLE } from '../node/bundled.js';
import type { BackendType } from '../pipeline/backendSettings.js';
import type { JobFolder } from './taskFiles.js';

// the settings are declared with the pipeline, which reads them from analysis files
export {
  type BackendSettings,
  type BackendType,
  backendFromFile,
  checkBackendSettings,
} from '../pipeline/backendSettings.js';

export type ActiveState = 'pending' | 'running';

/** How tasks were submitted: a Slurm job id (or a local label); for a Slurm array shared by several jobs, its name and each task's array index. */
export interface Submitted {
  id: string;
  name?: string;
  index?: number[];
}

/** Where tasks run (local processes, Slurm job arrays): submit tasks, ask which are still active, cancel them. */
export interface TaskRunner {
  readonly type: BackendType;
  /** Start these tasks of the job (attempt 1, 2, ...); returns how, for the record (a Slurm job id, and for an array shared with other jobs its name and the tasks' array indices). */
  submit(job: JobFolder, tasks: number[], attempt: number): Promise<Submitted>;
  /** The job's tasks that are queued or running now. */
  active(job: JobFolder): Promise<Map<number, ActiveState>>;
  /** Stop every task of the job that is queued or running. */
  cancel(job: JobFolder): Promise<void>;
}

/** The CLI script that runs `vbm task FILE` (this package's own: the bundled CLI when running from it). */
export function cliScript(): string {
  return fileURLToPath(new URL(BUNDLE?.cli ?? '../cli/main.js', import.meta.url));
}
