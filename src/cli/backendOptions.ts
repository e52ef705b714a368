import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { type BackendSettings, type BackendType, checkBackendSettings } from '../backend/backend.js';
import { type Options, str, strs } from './options.js';
import { BACKEND } from '../settings/vocabulary.js';
import { addSetting, flagNumberOrDefault } from './settingOptions.js';

/** The flags that run a command's heavy work as tasks (`--backend local|slurm --jobs N ...`). */
export function backendOptions(cmd: Command): Command {
  for (const s of [
    BACKEND.backend,
    BACKEND.jobs,
    BACKEND.partition,
    BACKEND.time,
    BACKEND.mem,
    BACKEND.account,
    BACKEND.sbatchArg,
    BACKEND.retries,
    BACKEND.wait,
  ])
    addSetting(cmd, s, { repeatable: s === BACKEND.sbatchArg });
  return cmd;
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
      jobs: flagNumberOrDefault(o, BACKEND.jobs),
      partition: str(o, 'partition'),
      time: str(o, 'time'),
      mem: str(o, 'mem'),
      account: str(o, 'account'),
      sbatchArgs: strs(o, 'sbatchArg'),
      retries: flagNumberOrDefault(o, BACKEND.retries),
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
