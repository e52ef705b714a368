import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { type BackendSettings, type BackendType, checkBackendSettings } from '../backend/backend.js';
import { type Options, reqNum, str, strs } from './options.js';

/** The flags that run a command's heavy work as tasks (`--backend local|slurm --jobs N ...`). */
export function backendOptions(cmd: Command): Command {
  return cmd
    .option(
      '--backend <type>',
      "run the work as tasks: 'local' (child processes) or 'slurm' (one sbatch job array); default: in this process",
    )
    .option('--jobs <n>', 'number of tasks (with --backend)', '4')
    .option('--partition <p>', 'Slurm partition')
    .option('--time <t>', 'Slurm time limit per task, e.g. 00:30:00')
    .option('--mem <m>', 'Slurm memory per task, e.g. 8G')
    .option('--account <a>', 'Slurm account')
    .option(
      '--sbatch-arg <arg>',
      'another sbatch option, as one argument, e.g. --sbatch-arg=--qos=normal (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--retries <n>', 'times a failed task is submitted again', '1')
    .option(
      '--no-wait',
      'return once the tasks are submitted (vbm show follows them; the same command again merges the results)',
    );
}

/** Backend settings from the flags, or undefined when --backend is not given. */
export function parseBackendOptions(o: Options): BackendSettings | undefined {
  const type = str(o, 'backend');
  if (type === undefined) {
    for (const f of ['partition', 'time', 'mem', 'account', 'sbatchArg']) {
      if (o[f] !== undefined)
        checkBackendSettings(
          { type: 'local', jobs: 1, [f === 'sbatchArg' ? 'sbatchArgs' : f]: o[f] },
          '--backend (missing)',
        );
    }
    return undefined;
  }
  return checkBackendSettings(
    {
      type: type as BackendType,
      jobs: reqNum(o, 'jobs'),
      partition: str(o, 'partition'),
      time: str(o, 'time'),
      mem: str(o, 'mem'),
      account: str(o, 'account'),
      sbatchArgs: strs(o, 'sbatchArg'),
      retries: reqNum(o, 'retries'),
      wait: o.wait !== false,
    },
    '--backend',
  );
}

/** After Ctrl-C while Slurm tasks run: ask (on a terminal) whether to cancel them; otherwise leave them. */
export async function askCancel(): Promise<'cancel' | 'leave'> {
  if (!process.stdin.isTTY) return 'leave';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on('SIGINT', () => {
    process.stderr.write('\nleaving the Slurm job running (vbm show follows it, vbm cancel stops it)\n');
    process.exit(130);
  });
  try {
    const a = await rl.question('cancel the Slurm job (scancel)? [y/N] (Ctrl-C again leaves it running) ');
    return /^y(es)?$/i.test(a.trim()) ? 'cancel' : 'leave';
  } finally {
    rl.close();
  }
}
