/**
 * npm run bench [-- options]: times the commands a user types, each in a fresh process and a
 * fresh output folder, on a generated cohort of the seed study's size.
 *
 *   --stages run,permute,report   which commands to time (default: all three)
 *   --cache warm,cold             page cache states (cold empties the cache first: root only)
 *   --permute maxt:500,tfce:100   the `vbm permute` jobs (statistics:permutations[:accel])
 *   --repeat 1                    the I/O floor and `vbm run` taken in turn this many times: their medians
 *                                 (this VM's speed drifts by 10-20% within minutes; one run says little)
 *   --n 379 --dims 121,145,121 --voxel 1.5 --format nii|nii.gz --workers 2
 *   --data DIR                    where the cohort lives (default $VBM_BENCH_DATA, else ./bench-data;
 *                                 several GB: point it outside the repository, e.g. a symlink to /tmp)
 *
 * The cohort: a brain-shaped phantom on the CAT12/SPM 1.5 mm grid (float32), smooth subject
 * noise, two planted effects, a design of 5 columns (constant, age, sex, apoe4, tiv) and a mask
 * of >= 600k voxels. Each command runs as `node dist/cli/vbm.js ...` (the bundled CLI) under GNU time inside a
 * shell that reads its own /proc/<pid>/io after reaping the command (Linux adds a reaped child's
 * I/O counts to its parent), so the figures are: wall time, CPU time (user + system), bytes read
 * from storage (read_bytes) and through read calls (rchar), peak RSS, and the wall time over the
 * I/O floor (reading every scan once, with the same number of threads, and nothing else).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
/** What users type: the file package.json's bin names for 'vbm' (the bundled CLI, dist/cli/vbm.js), so the bench follows it. */
const cli = join(
  repo,
  (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: { vbm: string } }).bin.vbm,
);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const n = Number(args.get('n') ?? 379);
const dims = (args.get('dims') ?? '121,145,121').split(',').map(Number) as [number, number, number];
const voxel = Number(args.get('voxel') ?? 1.5);
const format = (args.get('format') ?? 'nii') as 'nii' | 'nii.gz';
const workers = Number(args.get('workers') ?? availableParallelism());
const dataRoot = resolve(args.get('data') ?? process.env.VBM_BENCH_DATA ?? join(repo, 'bench-data'));
const stages = (args.get('stages') ?? 'run,permute,report').split(',').filter(Boolean);
const caches = (args.get('cache') ?? 'warm,cold').split(',').filter(Boolean);
const permJobs = (args.get('permute') ?? 'maxt:500,tfce:100').split(',').filter(Boolean);
const repeat = Math.max(1, Math.floor(Number(args.get('repeat') ?? 1)) || 1);
/** Template level that bounds the mask: on the 1.5 mm grid it gives ~620k voxels. */
const MASK_LEVEL = 0.011;

interface Cohort {
  dir: string;
  design: string;
  mask: string;
  files: string[];
  voxels: number;
}

function ensureCohort(): Cohort {
  const dir = join(dataRoot, `cohort-n${n}-${dims.join('x')}-${voxel}mm-${format.replace('.', '')}`);
  const stamp = join(dir, 'complete.json');
  const design = join(dir, 'design5.csv');
  const mask = join(dir, 'brainmask.nii');
  if (!existsSync(stamp)) {
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`generating ${n} scans (${dims.join('x')} at ${voxel} mm, ${format}) in ${dir}\n`);
    const t = performance.now();
    const cohort = makeCohort({
      n,
      dims,
      voxelMm: voxel,
      noiseFwhmMm: 8,
      noiseSd: 0.06,
      seed: 379,
      noisePool: Math.min(n, 24),
      effects: [
        { covariate: 'age', centreMm: [30, -20, 10], sigmaMm: 8, perSd: -0.04 },
        { covariate: 'apoe4', centreMm: [-26, -22, -14], sigmaMm: 6, perSd: -0.03 },
      ],
    });
    const written = writeCohort(dir, cohort, {
      format,
      gzipLevel: 1,
      onScan: (i) => {
        if ((i + 1) % 50 === 0)
          process.stderr.write(`  wrote ${i + 1}/${n} (${((performance.now() - t) / 1000).toFixed(0)} s)\n`);
      },
    });
    // a fifth design column: total intracranial volume (no effect planted), from a fixed sequence
    let x = 12345;
    const lines = readFileSync(written, 'utf8').trim().split('\n');
    const rows = lines.map((l, i) => {
      if (i === 0) return `${l},tiv`;
      x = (x * 1103515245 + 12345) % 2147483648;
      return `${l},${(1300 + 400 * (x / 2147483648)).toFixed(1)}`;
    });
    writeFileSync(design, rows.join('\n') + '\n');
    writeFileSync(mask, templateMask(cohort, MASK_LEVEL));
    let voxels = 0;
    for (const t of cohort.template) if (t > MASK_LEVEL) voxels++;
    writeFileSync(stamp, JSON.stringify({ n, dims, voxel, format, voxels }));
  }
  const { voxels } = JSON.parse(readFileSync(stamp, 'utf8')) as { voxels: number };
  const files = readFileSync(design, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => join(dir, l.split(',')[0]));
  return { dir, design, mask, files, voxels };
}

/** Empty the page cache (root only) so the next job reads from disk, as a first run does. */
function dropCaches(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

interface Measure {
  wall: number;
  cpu: number;
  readBytes: number;
  rchar: number;
  rssMB: number;
  stdout: string;
}

/** Run a command in a fresh process; wall, CPU, I/O and peak RSS as the kernel counts them. */
function measure(cmd: string[]): Measure {
  const tmp = join(dataRoot, `.measure-${process.pid}`);
  const t = performance.now();
  const r = spawnSync(
    'sh',
    [
      '-c',
      '"$@" > "$M.out"; s=$?; cat /proc/$$/io > "$M.io"; exit $s',
      'sh',
      '/usr/bin/time',
      '-f',
      '%U %S %M',
      '-o',
      `${tmp}.time`,
      ...cmd,
    ],
    {
      env: { ...process.env, M: tmp },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const wall = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (exit ${r.status}); see the messages above`);
  const [u, s, kb] = readFileSync(`${tmp}.time`, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const io = Object.fromEntries(
    readFileSync(`${tmp}.io`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(': '))
      .map(([k, v]) => [k, Number(v)]),
  );
  const stdout = readFileSync(`${tmp}.out`, 'utf8');
  for (const ext of ['time', 'io', 'out']) rmSync(`${tmp}.${ext}`, { force: true });
  return { wall, cpu: u + s, readBytes: io.read_bytes, rchar: io.rchar, rssMB: kb / 1024, stdout };
}

/** The measure of median wall time (of an even count, the faster of the middle two). */
function medianRun(ms: Measure[]): Measure {
  const sorted = [...ms].sort((a, b) => a.wall - b.wall);
  return sorted[(sorted.length - 1) >> 1];
}

const node = process.execPath;
const rows: string[][] = [];
const f1 = (x: number): string => x.toFixed(1);
/** Seconds in the table: two decimals (a warm `vbm run` is under a second). */
const f2 = (x: number): string => x.toFixed(2);
const gb = (b: number): string => (b / 1e9).toFixed(2);
function row(stage: string, cache: string, m: Measure, floor: Measure): void {
  rows.push([
    stage,
    cache,
    f2(m.wall),
    f2(m.cpu),
    gb(m.readBytes),
    gb(m.rchar),
    m.rssMB.toFixed(0),
    (m.wall / floor.wall).toFixed(2),
  ]);
  process.stderr.write(
    `  ${stage} (${cache}): ${f1(m.wall)} s wall, ${f1(m.cpu)} s CPU, ${gb(m.readBytes)} GB from storage, ${gb(m.rchar)} GB read calls, ${m.rssMB.toFixed(0)} MB peak\n`,
  );
}

const c = ensureCohort();
const contrastArgs = ['--contrast', 'age+:T:age=1', 'age-:T:age=-1', 'apoe4-:T:apoe4=-1', 'F:age,apoe4'];
const runDir = (tag: string): string => join(dataRoot, `out-${tag}`);
const startLoad = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
/** Whether `dir` holds a finished analysis whose scans are still where it read them (a copy of
 * bench-data, or a cohort regenerated elsewhere, leaves one that points at files that are gone). */
function fitOfThisCohort(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { scans?: { path: string }[] };
    return !!m.scans?.length && m.scans.every((sc) => existsSync(sc.path));
  } catch {
    return false;
  }
}

let reference: string | undefined; // a finished analysis that permute and report copy from

for (const cache of caches) {
  const cold = cache === 'cold';
  if (cold && !dropCaches()) {
    process.stderr.write('cannot drop the page cache (needs root): cold-cache rows skipped\n');
    continue;
  }
  // the job in a file: every scan's path in one argument exceeds Linux's 128 KB per argument for a few thousand scans
  const floorJob = join(tmpdir(), `vbm-bench-floor-${process.pid}.json`);
  writeFileSync(floorJob, JSON.stringify({ kind: 'floor', files: c.files, workers }));
  process.on('exit', () => rmSync(floorJob, { force: true }));
  const floorCmd = [node, join(here, 'child.js'), floorJob];
  if (!cold) measure(floorCmd); // fill the cache
  // the floor and `vbm run` taken in turn `repeat` times (each run into a new folder): the medians
  const floors: Measure[] = [];
  const runs: Measure[] = [];
  const out = runDir(`run-${cache}`);
  for (let i = 0; i < repeat; i++) {
    if (cold) dropCaches();
    floors.push(measure(floorCmd));
    if (!stages.includes('run')) continue;
    rmSync(out, { recursive: true, force: true });
    if (cold) dropCaches();
    process.stderr.write(`vbm run (${cache} cache${repeat > 1 ? `, ${i + 1} of ${repeat}` : ''})\n`);
    runs.push(
      measure([
        node,
        cli,
        'run',
        c.design,
        '--mask',
        c.mask,
        '--out',
        out,
        '--workers',
        String(workers),
        '-q',
        ...contrastArgs,
      ]),
    );
  }
  const times = repeat > 1 ? ` (median of ${repeat})` : '';
  const floor = medianRun(floors);
  row(`I/O floor (read every scan once)${times}`, cache, floor, floor);
  if (runs.length) {
    row(`vbm run (new folder)${times}`, cache, medianRun(runs), floor);
    reference = out;
  }
  if (!reference) {
    reference = runDir('reference');
    if (!fitOfThisCohort(reference)) {
      rmSync(reference, { recursive: true, force: true });
      process.stderr.write('a reference analysis for permute and report (not timed)\n');
      measure([
        node,
        cli,
        'run',
        c.design,
        '--mask',
        c.mask,
        '--out',
        reference,
        '--workers',
        String(workers),
        '-q',
        ...contrastArgs,
      ]);
    }
  }
  const fresh = (tag: string): string => {
    const dir = runDir(`${tag}-${cache}`);
    rmSync(dir, { recursive: true, force: true });
    cpSync(reference as string, dir, {
      recursive: true,
      filter: (src) => !/perm_|report|mean_scans|\.png$/.test(src.slice((reference as string).length)),
    });
    return dir;
  };
  if (stages.includes('permute')) {
    for (const spec of permJobs) {
      const [kind, count, accel] = spec.split(':');
      const dir = fresh(`permute-${kind}-${count}${accel ? `-${accel}` : ''}`);
      const extra = kind === 'tfce' ? ['--tfce', '--cluster-threshold', '0.001'] : [];
      if (accel) extra.push('--accel', accel);
      if (cold) dropCaches();
      process.stderr.write(`vbm permute ${kind} ${count}${accel ? ` --accel ${accel}` : ''} (${cache} cache)\n`);
      const m = measure([
        node,
        cli,
        'permute',
        dir,
        '--contrast',
        '1',
        '--permutations',
        count,
        '--seed',
        '1',
        '--workers',
        String(workers),
        '-q',
        ...extra,
      ]);
      // how many rearrangements ran (sequential stopping may end early), from the printed summary
      const done = /; (\d+) (?:\(all\) )?(?:Freedman-Lane permutations|sign flips)/.exec(m.stdout)?.[1] ?? '?';
      row(
        `vbm permute ${kind === 'tfce' ? 'TFCE+cluster+max-T' : 'max-T'} ${count}${accel ? ` accel ${accel} (${done} done)` : ''}`,
        cache,
        m,
        floor,
      );
    }
  }
  if (stages.includes('report')) {
    const dir = fresh('report');
    if (cold) dropCaches();
    process.stderr.write(`vbm report (${cache} cache)\n`);
    row('vbm report (mean of scans, 4 contrasts, viewer)', cache, measure([node, cli, 'report', dir, '-q']), floor);
  }
}

const header = [
  'stage (fresh process, fresh folder)',
  'cache',
  'wall s',
  'CPU s',
  'read_bytes GB',
  'rchar GB',
  'peak RSS MB',
  'wall/floor',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]): string => `| ${r.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
process.stdout.write(
  `\nvbm benchmark ${new Date().toISOString().slice(0, 16)}Z: ${n} scans of ${dims.join('x')} at ${voxel} mm (${format}), ${c.voxels} voxels in the mask, ` +
    `5 design columns, ${workers} worker threads, node ${process.version}; load average at start ${startLoad}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n\n`,
);
process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');
