/** vbm task (hidden): run one task file written by --backend. */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import type { Options } from '../options.js';
import { TASK } from '../../settings/vocabulary.js';
import { addSetting, flagNumberOrDefault } from '../settingOptions.js';
import { runTaskFile } from '../../backend/permuteTasks.js';
import { readTaskFile } from '../../backend/taskFiles.js';
import type { Command } from 'commander';

export function taskCommand(program: Command): void {
  const cmd = program
    .command('task', { hidden: true })
    .description('run one task file written by --backend (what each local process or Slurm array task runs)')
    .argument('<file>', 'task_NNNN.json');
  addSetting(cmd, TASK.workers).action(async (file: string, o: Options) => {
    const t = readTaskFile(resolve(file));
    const started = Date.now();
    process.stdout.write(
      `vbm task ${resolve(file)} (job ${t.job}, task ${t.task} of ${t.tasks}) on ${hostname()} pid ${process.pid}, ${new Date().toISOString()}\n`,
    );
    const out = await runTaskFile(resolve(file), t, {
      workers: flagNumberOrDefault(o, TASK.workers),
      onNote: (m) => process.stdout.write(`note: ${m}\n`),
    });
    process.stdout.write(`wrote ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });
}
