/**
 * The pipeline's TaskBackend (declared in pipeline/taskBackend.ts): the fit's sums and the
 * permutation tests as task files run by local processes or Slurm arrays. The pipeline is handed
 * this object; it does not import src/backend/. One runner per settings serves every model and
 * stage of a command, so that `--backend local --jobs N` runs at most N processes even when
 * several models' tasks are out at once.
 */
import { TasksSubmitted, type TaskBackend } from '../pipeline/taskBackend.js';
import type { BackendSettings, TaskRunner } from './backend.js';
import { fitOnBackend } from './fitTasks.js';
import { distributedPermute } from './permuteTasks.js';
import { runnerFor } from './runners.js';

/** The pipeline's TaskBackend: fit sums and permutations as tasks, one runner per backend setting (local processes, Slurm). */
export function backendTasks(): TaskBackend {
  const runners = new Map<string, TaskRunner>();
  const runner = (s: BackendSettings): TaskRunner => {
    const k = JSON.stringify(s);
    let r = runners.get(k);
    if (!r) runners.set(k, (r = runnerFor(s)));
    return r;
  };
  return {
    fitSums: (dir, jobs, settings, onScan, cb) =>
      fitOnBackend(dir, jobs, settings, onScan, { ...cb, runner: runner(settings) }),
    permute: async (dir, req, settings, cb) => {
      const d = await distributedPermute(dir, req, settings, { ...cb, runner: runner(settings) });
      if (d.output) return d.output;
      throw new TasksSubmitted(
        `the permutations of contrast ${String(req.contrast)} were submitted as ${d.job.tasks} ${settings.type} tasks (${d.job.dir}) and are not finished`,
        'the same command run again when they are done (vbm show follows them) merges their results and goes on',
        [d.job.dir],
      );
    },
  };
}
