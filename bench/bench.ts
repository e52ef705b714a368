/**
 * npm run bench [-- --n 379 --dims 121,145,121 --voxel 1.5 --formats nii,nii.gz --workers 2 --data bench-data]
 *
 * Generates a realistic cohort (a brain-shaped phantom on the CAT12/SPM 1.5 mm grid, smooth
 * subject noise, planted effects; float32 .nii and .nii.gz), then measures, each in a fresh
 * process: the I/O floor (read + decompress every file, same number of threads), and the whole
 * `vbm run` (3 contrasts) with its stages; then pictures and the HTML report (--report no to skip)
 * and permutation inference (--permute maxt:N,tfce:N or none). Prints tables of times and peak memory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const n = Number(args.get('n') ?? 379);
const dims = (args.get('dims') ?? '121,145,121').split(',').map(Number) as [number, number, number];
const voxel = Number(args.get('voxel') ?? 1.5);
const formats = (args.get('formats') ?? 'nii,nii.gz').split(',') as ('nii' | 'nii.gz')[];
const workers = Number(args.get('workers') ?? availableParallelism());
const dataRoot = resolve(args.get('data') ?? join(repo, 'bench-data'));

function ensureCohort(format: 'nii' | 'nii.gz'): { design: string; mask: string; files: string[] } {
  const dir = join(dataRoot, `cohort-n${n}-${dims.join('x')}-${voxel}mm-${format.replace('.', '')}`);
  const stamp = join(dir, 'complete.json');
  const design = join(dir, 'design.csv');
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
    writeCohort(dir, cohort, {
      format,
      gzipLevel: 1,
      onScan: (i) => {
        if ((i + 1) % 50 === 0) process.stderr.write(`  wrote ${i + 1}/${n} (${((performance.now() - t) / 1000).toFixed(0)} s)\n`);
      },
    });
    writeFileSync(mask, templateMask(cohort, 0.1));
    writeFileSync(stamp, JSON.stringify({ n, dims, voxel, format }));
  }
  const files = readFileSync(design, 'utf8').trim().split('\n').slice(1).map((l) => join(dir, l.split(',')[0]));
  return { design, mask, files };
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

interface ChildResult {
  ms: number;
  maxRssMB: number;
  timings?: Record<string, number>;
  voxels?: number;
}

function child(job: object): ChildResult {
  const out = execFileSync(process.execPath, [join(here, 'child.js'), JSON.stringify(job)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string) as ChildResult;
}

const rows: string[][] = [];
const skipRun = (args.get('run') ?? 'yes') === 'no';
const s = (ms: number): string => (ms / 1000).toFixed(1);
const caches = (args.get('cache') ?? 'warm,cold').split(',');
for (const format of skipRun ? [] : formats) {
  const { design, mask, files } = ensureCohort(format);
  for (const cache of caches) {
  if (cache === 'cold' && !dropCaches()) {
    process.stderr.write('cannot drop the page cache (needs root): cold-cache rows skipped\n');
    continue;
  }
  if (cache === 'warm') child({ kind: 'floor', files, workers }); // fill the cache
  process.stderr.write(`measuring the I/O floor (${format}, ${cache} cache)\n`);
  const floor = child({ kind: 'floor', files, workers });
  if (cache === 'cold') dropCaches();
  process.stderr.write(`measuring vbm run (${format}, ${cache} cache)\n`);
  const run = child({ kind: 'run', design, mask, out: join(dataRoot, `results-${format.replace('.', '')}`), workers });
  const t = run.timings ?? {};
  rows.push([
    `${format} ${cache}`,
    String(n),
    String(run.voxels),
    s(floor.ms),
    s(t.headers ?? 0),
    s(t.stream ?? 0),
    s((t.solve ?? 0) + (t.smoothness ?? 0) + (t.contrasts ?? 0)),
    s(t.write ?? 0),
    s(run.ms),
    (run.ms / floor.ms).toFixed(2),
    run.maxRssMB.toFixed(0),
  ]);
  }
}
const header = ['format, cache', 'scans', 'voxels', 'I/O floor s', 'headers s', 'read+fit s', 'solve+smooth+con s', 'write s', 'total s', 'total/floor', 'peak RSS MB'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
if (rows.length) process.stdout.write(`\nvbm run benchmark: ${n} scans of ${dims.join('x')} voxels at ${voxel} mm, ${workers} worker threads, node ${process.version}\n\n`);
if (rows.length) process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n');

// pictures and the report on the same cohort's analysis: the mean of the scans (read once, then
// cached), slices, glass brain, design matrix, and the whole HTML report (atlas: AAL when installed)
if ((args.get('report') ?? 'yes') !== 'no') {
  const { design, mask } = ensureCohort('nii');
  const out = join(dataRoot, 'results-nii');
  if (!existsSync(join(out, 'model.json')) || !/"R"/.test(readFileSync(join(out, 'model.json'), 'utf8'))) child({ kind: 'run', design, mask, out, workers });
  rmSync(join(out, 'mean_scans.nii'), { force: true });
  const atlas = existsSync('/usr/share/mricron/templates/aal.nii.gz') ? 'aal' : undefined;
  const qrow: string[][] = [];
  for (const what of ['mean', 'slices', 'glass', 'design', 'report'] as const) {
    process.stderr.write(`measuring ${what}\n`);
    const r = child({ kind: 'picture', out, what, atlas }) as unknown as { ms: number; bytes: number; maxRssMB: number };
    const label = { mean: 'mean of the scans (computed, cached)', slices: 'vbm plot: 8 axial cuts over the mean', glass: 'vbm plot --kind glass', design: 'vbm plot --kind design', report: `vbm report: 3 contrasts${atlas ? ', AAL labels' : ''}, viewer` }[what];
    qrow.push([label, s(r.ms), (r.bytes / 1e6).toFixed(2), r.maxRssMB.toFixed(0)]);
  }
  const qh = ['job (fresh process)', 'total s', 'output MB', 'peak RSS MB'];
  const qw = qh.map((h, i) => Math.max(h.length, ...qrow.map((r) => r[i].length)));
  const ql = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(qw[i])).join(' | ')} |`;
  process.stdout.write(`\npictures and report benchmark: the nii cohort's analysis (${n} scans, ${dims.join('x')})\n\n`);
  process.stdout.write([ql(qh), ql(qw.map((w) => '-'.repeat(w))), ...qrow.map(ql)].join('\n') + '\n');
}

// permutation inference on the same cohort (contrast 1: age, nuisance sex and apoe4)
const permSpec = (args.get('permute') ?? 'maxt:1000,tfce:250').split(',').filter(Boolean);
if (permSpec.length && !permSpec.includes('none')) {
  const { design, mask } = ensureCohort('nii');
  const out = join(dataRoot, 'results-nii');
  if (!existsSync(join(out, 'model.json'))) child({ kind: 'run', design, mask, out, workers });
  const prow: string[][] = [];
  for (const spec of permSpec) {
    const [kind, count] = spec.split(':');
    process.stderr.write(`measuring vbm permute (${kind}, ${count} permutations)\n`);
    const r = child({ kind: 'permute', out, permutations: Number(count), tfce: kind === 'tfce', workers }) as unknown as {
      ms: number; read: number; permute: number; perSec: number; rows: number; n: number; voxels: number; maxRssMB: number;
    };
    const mac = r.rows * r.n * r.voxels;
    prow.push([
      kind === 'tfce' ? 'TFCE + cluster + max-T' : 'max-T',
      count,
      r.read.toFixed(1),
      r.permute.toFixed(1),
      r.perSec.toFixed(1),
      ((5000 / r.perSec + r.read) / 60).toFixed(1),
      `${r.rows}x${r.n}x${r.voxels}`,
      ((mac * r.perSec) / 1e9).toFixed(1),
      r.maxRssMB.toFixed(0),
    ]);
  }
  const ph = ['statistics', 'permutations', 'read s', 'permute s', 'perms/s', 'est. 5000 perms min', 'product per perm', 'GMAC/s', 'peak RSS MB'];
  const pw = ph.map((h, i) => Math.max(h.length, ...prow.map((r) => r[i].length)));
  const pl = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(pw[i])).join(' | ')} |`;
  process.stdout.write(`\nvbm permute benchmark: contrast 'age +' of the nii cohort, ${workers} worker threads\n\n`);
  process.stdout.write([pl(ph), pl(pw.map((w) => '-'.repeat(w))), ...prow.map(pl)].join('\n') + '\n');
}
