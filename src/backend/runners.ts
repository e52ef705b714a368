import type { BackendSettings, TaskRunner } from './backend.js';
import { LocalRunner } from './local.js';
import { SlurmRunner } from './slurm.js';

/** The runner for the settings: local child processes or Slurm job arrays. */
export function runnerFor(settings: BackendSettings): TaskRunner {
  return settings.type === 'slurm' ? new SlurmRunner(settings) : new LocalRunner(settings.jobs);
}
