#!/usr/bin/env node
import { Command } from 'commander';
import { describeError, fileErrorAsVbmError, VbmError } from '../errors.js';
import { VBM_VERSION } from '../node/version.js';
import { runCommand } from './commands/run.js';
import { checkCommand } from './commands/check.js';
import { initCommand } from './commands/init.js';
import { resultsCommand } from './commands/results.js';
import { labelCommand } from './commands/label.js';
import { atlasesCommand } from './commands/atlases.js';
import { permuteCommand } from './commands/permute.js';
import { plotCommand } from './commands/plot.js';
import { reportCommand } from './commands/report.js';
import { showCommand } from './commands/show.js';
import { cancelCommand } from './commands/cancel.js';
import { taskCommand } from './commands/task.js';

// `vbm show DIR | head`: when the reader of our output goes away, stop quietly (as cat does)
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });

const program = new Command();
program
  .name('vbm')
  .description("Voxel-based morphometry and voxel-wise multiple regression, with SPM12's numbers")
  .version(VBM_VERSION)
  .showHelpAfterError();

runCommand(program);
checkCommand(program);
initCommand(program);
resultsCommand(program);
labelCommand(program);
atlasesCommand(program);
permuteCommand(program);
plotCommand(program);
reportCommand(program);
showCommand(program);
cancelCommand(program);
taskCommand(program);

program.parseAsync(process.argv).catch((caught: unknown) => {
  const err = fileErrorAsVbmError(caught);
  process.stderr.write(`vbm: error: ${describeError(err)}\n`);
  process.exit(err instanceof VbmError ? 2 : 1);
});
