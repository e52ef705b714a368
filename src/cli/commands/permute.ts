/** vbm permute: permutation inference on a contrast. */
import { VbmError } from '../../errors.js';
import { progressReporter } from '../progress.js';
import { interruptible } from '../interrupt.js';
import { existsSync, readFileSync } from 'node:fs';
import { runPermute } from '../../pipeline/permute.js';
import { type Options, num, reqNum, reqStr } from '../options.js';
import { askCancel, backendOptions, parseBackendOptions } from '../backendOptions.js';
import { distributedPermute } from '../../backend/permuteTasks.js';
import { parseAccel } from '../../permutation/accel.js';
import type { Command } from 'commander';

export function permuteCommand(program: Command): void {
  backendOptions(
    program
      .command('permute')
      .description(
        'permutation inference: Freedman-Lane (or sign flips), max-statistic FWE, exact TFCE, cluster extent and mass FWE',
      )
      .argument('<dir>', 'analysis folder written by vbm run')
      .requiredOption('--contrast <which>', 'contrast number or name')
      .option(
        '--permutations <n>',
        'number of permutations, the observed included (all are enumerated when fewer exist)',
        '5000',
      )
      .option('--seed <n>', 'random seed (the same seed gives the same permutations)', '0')
      .option('--tfce', 'threshold-free cluster enhancement (exact integral) with FWE p-values')
      .option('--tfce-e <E>', 'TFCE extent exponent', '0.5')
      .option('--tfce-h <H>', 'TFCE height exponent', '2')
      .option('--connectivity <c>', 'neighbours for clusters and TFCE: 6, 18 or 26 (FSL default)', '26')
      .option(
        '--cluster-threshold <p>',
        'cluster-forming threshold (uncorrected p) for cluster-extent and cluster-mass FWE',
      )
      .option(
        '--scheme <s>',
        "'auto' (permute; sign-flip one-sample effects and designs with variance groups), 'permute' or 'signflip'",
        'auto',
      )
      .option('--blocks <file>', 'exchangeability blocks: a text file with one integer per scan, in design order')
      .option('--alpha <a>', 'FWE level for the table of significant clusters', '0.05')
      .option(
        '--accel <list>',
        "faster p-values: 'tail' (generalised Pareto fit to the tail of the null maxima for FWE p), 'stop' (stop once no peak can reach FWE significance), or 'tail,stop'",
      )
      .option('--workers <n>', 'worker threads (default: all cores)')
      .option('-q, --quiet', 'no progress'),
  ).action(async (dir: string, o: Options) => {
    const backend = parseBackendOptions(o);
    const conn = reqNum(o, 'connectivity');
    if (![6, 18, 26].includes(conn)) throw new VbmError(`--connectivity must be 6, 18 or 26 (got ${conn})`);
    const scheme = reqStr(o, 'scheme');
    if (!['auto', 'permute', 'signflip'].includes(scheme))
      throw new VbmError(`--scheme '${scheme}' is not one of auto, permute, signflip`);
    let blocks: number[] | undefined;
    if (o.blocks !== undefined) {
      const file = reqStr(o, 'blocks');
      if (!existsSync(file)) throw new VbmError(`--blocks file not found: ${file}`);
      blocks = readFileSync(file, 'utf8')
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((x, i) => {
          const b = Number(x);
          if (!Number.isInteger(b))
            throw new VbmError(
              `${file}: entry ${i + 1} ('${x}') is not a whole number`,
              'one integer block number per scan',
            );
          return b;
        });
    }
    const progress = progressReporter(!o.quiet);
    const request = {
      contrast: reqStr(o, 'contrast'),
      permutations: reqNum(o, 'permutations'),
      seed: reqNum(o, 'seed'),
      tfce: Boolean(o.tfce),
      tfceParams: { E: reqNum(o, 'tfceE'), H: reqNum(o, 'tfceH') },
      connectivity: conn as 6 | 18 | 26,
      clusterThreshold: num(o, 'clusterThreshold'),
      scheme: scheme as 'auto' | 'permute' | 'signflip',
      blocks,
      alpha: reqNum(o, 'alpha'),
      accel: o.accel === undefined ? undefined : parseAccel(reqStr(o, 'accel'), '--accel'),
      workers: num(o, 'workers'),
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
