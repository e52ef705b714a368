/** vbm permute: permutation inference on a contrast. */
import { submitReduce } from '../../backend/reduceJob.js';
import type { Command } from 'commander';
import { progressReporter } from '../progress.js';
import { interruptible } from '../interrupt.js';
import { runPermute } from '../../pipeline/permute.js';
import { readBlocksFile } from '../../pipeline/blocksFile.js';
import type { Options } from '../options.js';
import { askCancel, backendOptions, parseBackendOptions } from '../backendOptions.js';
import { distributedPermute } from '../../backend/permuteTasks.js';
import { parseAccel } from '../../permutation/accelOptions.js';
import { PERMUTE, RUN } from '../../settings/vocabulary.js';
import {
  addSetting,
  addSettings,
  flagList,
  flagNumber,
  flagNumberOrDefault,
  flagSwitch,
  flagText,
  flagValue,
} from '../settingOptions.js';

export function permuteCommand(program: Command): void {
  const cmd = program
    .command('permute')
    .description(
      'permutation inference: Freedman-Lane (or sign flips), max-statistic FWE, exact TFCE, cluster extent and mass FWE',
    )
    .argument('<dir>', 'analysis folder written by vbm run');
  addSetting(cmd, PERMUTE.contrast, { required: true });
  addSettings(cmd, [
    PERMUTE.permutations,
    PERMUTE.seed,
    PERMUTE.tfce,
    PERMUTE.tfceE,
    PERMUTE.tfceH,
    PERMUTE.connectivity,
    PERMUTE.clusterThreshold,
    PERMUTE.scheme,
    PERMUTE.blocks,
    PERMUTE.alpha,
    PERMUTE.accel,
    PERMUTE.workers,
    RUN.memory,
    PERMUTE.quiet,
  ]);
  backendOptions(cmd).action(async (dir: string, o: Options) => {
    const backend = parseBackendOptions(o);
    const blocksFile = flagText(o, PERMUTE.blocks);
    const accel = flagList(o, PERMUTE.accel);
    const progress = progressReporter(!o.quiet);
    const request = {
      contrast: flagText(o, PERMUTE.contrast)!,
      permutations: flagNumberOrDefault(o, PERMUTE.permutations),
      seed: flagNumberOrDefault(o, PERMUTE.seed),
      tfce: flagSwitch(o, PERMUTE.tfce),
      tfceParams: { E: flagNumberOrDefault(o, PERMUTE.tfceE), H: flagNumberOrDefault(o, PERMUTE.tfceH) },
      connectivity: Number(flagText(o, PERMUTE.connectivity)) as 6 | 18 | 26,
      clusterThreshold: flagNumber(o, PERMUTE.clusterThreshold),
      scheme: flagText<'auto' | 'permute' | 'signflip'>(o, PERMUTE.scheme),
      blocks: blocksFile === undefined ? undefined : readBlocksFile(blocksFile, 'cli'),
      alpha: flagNumberOrDefault(o, PERMUTE.alpha),
      accel: accel === undefined ? undefined : parseAccel(accel.join(','), '--accel'),
      workers: flagNumber(o, PERMUTE.workers),
      memory: flagValue(o, RUN.memory) as number | undefined,
      origin: 'cli' as const,
      onProgress: (d: number, t: number) => progress('permutations', d, t),
      onReadProgress: (d: number, t: number) => progress('reading scans', d, t),
      onNote: (m: string) => process.stderr.write(`note: ${m}\n`),
    };
    if (backend) {
      const d = await interruptible(
        backend.type === 'local' ? 'stopping the tasks' : 'stopping to wait for the Slurm tasks',
        (signal) =>
          distributedPermute(dir, { ...request, signal: undefined }, backend, {
            signal,
            rerun: ['vbm', ...process.argv.slice(2)].join(' '),
            onInterrupt: askCancel,
            onProgress: (d, t) => progress(`${backend.type} tasks`, d, t),
            onNote: request.onNote,
          }),
      );
      if (!d.output) {
        process.stdout.write(
          `submitted ${d.outcome.submitted.length} of ${d.job.tasks} tasks (${d.job.dir}); \`vbm show ${dir}\` follows them, the same command again merges their results\n`,
        );
        if (backend.type === 'slurm')
          process.stdout.write(
            `reduce: Slurm job ${await submitReduce([d.job.dir], backend, { argv: process.argv.slice(1), cwd: process.cwd() })} merges them when they have succeeded\n`,
          );
        return;
      }
      process.stdout.write(`${d.output.text}\n  wrote ${d.output.files.join(', ')}\n`);
      return;
    }
    const out = await interruptible('finishing the permutations in progress and saving a checkpoint', (signal) =>
      runPermute(dir, { ...request, signal }),
    );
    process.stdout.write(`${out.text}\n  wrote ${out.files.join(', ')}\n`);
  });
}
