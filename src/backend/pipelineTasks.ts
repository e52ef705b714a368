/**
 * The pipeline's TaskBackend (declared in pipeline/taskBackend.ts): the fit's sums and the
 * permutation tests as task files run by local processes or Slurm arrays. The pipeline is handed
 * this object; it does not import src/backend/.
 */
import { TasksSubmitted, type TaskBackend } from '../pipeline/taskBackend.js';
import { fitOnBackend } from './fitTasks.js';
import { distributedPermute } from './permuteTasks.js';

export function backendTasks(): TaskBackend {
  return {
    fitSums: (dir, jobs, settings, onScan, cb) => fitOnBackend(dir, jobs, settings, onScan, cb),
    permute: async (dir, req, settings, cb) => {
      const d = await distributedPermute(dir, req, settings, cb);
      if (d.output) return d.output;
      throw new TasksSubmitted(
        `the permutations of contrast ${String(req.contrast)} were submitted as ${d.job.tasks} ${settings.type} tasks (${d.job.dir}) and are not finished`,
        'the same command run again when they are done (vbm show follows them) merges their results and goes on',
        [d.job.dir],
      );
    },
  };
}
