#!/usr/bin/env node
import { Command } from 'commander';
import { describeError, fileErrorAsVbmError, VbmError } from '../errors.js';
import { VBM_VERSION } from '../node/version.js';

/**
 * Each command's module, loaded only when needed: `vbm run` does not load the pictures' canvas
 * or the report (a few hundred ms of every start). Help, an unknown command or
 * no command load them all (in this order, which `vbm --help` lists).
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  run: async () => (await import('./commands/run.js')).runCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  init: async () => (await import('./commands/init.js')).initCommand,
  results: async () => (await import('./commands/results.js')).resultsCommand,
  label: async () => (await import('./commands/label.js')).labelCommand,
  atlases: async () => (await import('./commands/atlases.js')).atlasesCommand,
  permute: async () => (await import('./commands/permute.js')).permuteCommand,
  plot: async () => (await import('./commands/plot.js')).plotCommand,
  report: async () => (await import('./commands/report.js')).reportCommand,
  show: async () => (await import('./commands/show.js')).showCommand,
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand,
  task: async () => (await import('./commands/task.js')).taskCommand,
};

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

const asked = process.argv[2];
// `vbm --version` needs no command; a command's name loads that one; anything else loads them all
const version = (asked === '--version' || asked === '-V') && process.argv.length === 3;
const load = asked !== undefined && Object.hasOwn(COMMANDS, asked) ? [asked] : version ? [] : Object.keys(COMMANDS);
Promise.all(load.map((name) => COMMANDS[name]()))
  .then((adders) => {
    for (const add of adders) add(program);
    return program.parseAsync(process.argv);
  })
  .catch((caught: unknown) => {
    const err = fileErrorAsVbmError(caught);
    process.stderr.write(`vbm: error: ${describeError(err)}\n`);
    process.exit(err instanceof VbmError ? 2 : 1);
  });
