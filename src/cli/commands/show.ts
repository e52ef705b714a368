/** vbm show: review a finished analysis folder. */
import { openAnalysis } from '../../pipeline/analysis.js';
import { analysisFiles, describeAnalysis, modelFolders } from '../../pipeline/show.js';
import { formatTable } from '../../report/textTable.js';
import { basename, resolve } from 'node:path';
import { stageSummary } from '../../pipeline/pipeline.js';
import { describeJobStates, jobStates, tasksBeforeModel } from '../../backend/status.js';
import type { Command } from 'commander';
import { SHOW } from '../../settings/vocabulary.js';
import { addSettings } from '../settingOptions.js';

export function showCommand(program: Command): void {
  const cmd = program
    .command('show')
    .description('review a finished analysis folder: scans, design, contrasts, images')
    .argument('<dir>', 'analysis folder written by vbm run');
  addSettings(cmd, [SHOW.scans, SHOW.json]).action(async (dir: string, o: { scans?: boolean; json?: boolean }) => {
    const abs = resolve(dir);
    // a folder of several models: one subfolder per model
    const dirs = modelFolders(abs);
    // no model yet: the fit was submitted as tasks (--no-wait); say how they are doing
    const pending = dirs.length === 0 ? await tasksBeforeModel(abs) : undefined;
    if (pending) return void process.stdout.write(pending);
    if (dirs.length === 0) openAnalysis(abs); // throws the helpful error
    const shown = dirs.map((d) => {
      const a = openAnalysis(d);
      return { a, stages: stageSummary(a.dir), files: analysisFiles(a.dir) };
    });
    if (o.json) {
      const list = shown.map(({ a, stages, files }) => ({ dir: a.dir, stages, files, ...a.record }));
      process.stdout.write(
        JSON.stringify(dirs.length === 1 && dirs[0] === abs ? list[0] : { models: list }, null, 1) + '\n',
      );
      return;
    }
    for (const { a, stages, files } of shown) {
      if (shown.length > 1 || dirs[0] !== abs) process.stdout.write(`\n== model ${basename(a.dir)} ==\n`);
      process.stdout.write(describeAnalysis(a, { allScans: o.scans }) + '\n');
      if (stages.length) {
        process.stdout.write(
          '\nStages:\n' +
            formatTable(
              ['stage', 'finished', 'seconds', 'outputs', 'command'],
              stages.map((s) => [s.stage, s.finished, s.seconds.toFixed(1), String(s.outputs), s.command ?? '']),
            ) +
            '\n',
        );
      }
      process.stdout.write(`\nFiles: ${files.join(' ')}\n`);
      const tasks = await jobStates(a.dir);
      if (tasks.length) process.stdout.write(`\nTasks:\n${describeJobStates(tasks)}\n`);
    }
  });
}
