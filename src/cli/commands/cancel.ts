/** vbm cancel: cancel the Slurm jobs of an analysis folder. */
import { openAnalysis } from '../../pipeline/analysis.js';
import { cancelJobs } from '../../backend/status.js';
import type { Command } from 'commander';

export function cancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('cancel the Slurm jobs (tasks submitted with --backend slurm) of an analysis folder')
    .argument('<dir>', 'analysis folder')
    .action(async (dir: string) => {
      const a = openAnalysis(dir);
      const ids = await cancelJobs(a.dir);
      process.stdout.write(
        ids.length
          ? `cancelled Slurm job${ids.length > 1 ? 's' : ''} ${ids.join(', ')}\n`
          : 'no Slurm job was submitted from this folder\n',
      );
    });
}
