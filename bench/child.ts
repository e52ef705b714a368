/**
 * One measured job in a fresh process, so that peak memory (maxRSS, which includes worker
 * threads) belongs to that job alone. Prints one JSON line.
 */
import { Worker } from 'node:worker_threads';
import { runAnalysis } from '../src/pipeline/run.js';
import { openAnalysis } from '../src/pipeline/analysis.js';
import { permuteContrast } from '../src/permutation/permute.js';
import { runPlot } from '../src/pipeline/plot.js';
import { runReport } from '../src/pipeline/report.js';
import { openAtlas } from '../src/pipeline/label.js';
import { MEAN_IMAGE, meanOfScans } from '../src/plot/background.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const job = JSON.parse(process.argv[2]) as
  | { kind: 'floor'; files: string[]; workers: number }
  | { kind: 'run'; design: string; out: string; mask?: string; workers?: number }
  | { kind: 'permute'; out: string; permutations: number; tfce: boolean; workers?: number }
  | { kind: 'picture'; out: string; what: 'mean' | 'slices' | 'glass' | 'design' | 'report'; atlas?: string };

const t0 = performance.now();
if (job.kind === 'floor') {
  const shares = Array.from({ length: job.workers }, (_, w) => job.files.filter((_, i) => i % job.workers === w));
  const bytes = await Promise.all(
    shares.map(
      (files) =>
        new Promise<number>((resolve, reject) => {
          const wk = new Worker(new URL('./floor-worker.js', import.meta.url), { workerData: files });
          wk.on('message', resolve);
          wk.on('error', reject);
        }),
    ),
  );
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, bytes: bytes.reduce((a, b) => a + b, 0), maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
} else if (job.kind === 'picture') {
  if (job.what === 'mean') await meanOfScans(openAnalysis(job.out));
  else if (job.what === 'report') {
    const atlas = job.atlas ? openAtlas(job.atlas) : undefined;
    await runReport(job.out, { threshold: 0.001, correction: 'none', extent: 0, atlas });
  } else {
    const kind = job.what === 'slices' ? 'slices' : job.what === 'glass' ? 'glass' : 'design';
    await runPlot(job.out, { kind, contrast: 1, threshold: 3.1, display: 'z', cuts: 8, out: join(job.out, `bench-${kind}.png`) });
  }
  const file = job.what === 'report' ? join(job.out, 'report.html') : job.what === 'mean' ? join(job.out, MEAN_IMAGE) : join(job.out, `bench-${job.what}.png`);
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0, bytes: statSync(file).size, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
} else if (job.kind === 'permute') {
  const a = openAnalysis(job.out);
  const res = await permuteContrast(a, {
    contrast: 1,
    permutations: job.permutations,
    seed: 1,
    tfce: job.tfce,
    clusterThreshold: job.tfce ? 0.001 : undefined,
    workers: job.workers,
    onProgress: (d, t) => {
      if (d % 100 === 0 || d === t) process.stderr.write(`  ${d}/${t} permutations (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    },
  });
  const k = res.contrast.df[0] + a.record.design.columns.length - 1 - 1; // product rows: effect + nuisance without the constant
  process.stdout.write(
    JSON.stringify({ ms: performance.now() - t0, read: res.seconds.read, permute: res.seconds.permute, perSec: res.permutations / res.seconds.permute, rows: k, n: a.record.scans.length, voxels: res.voxels.length, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n',
  );
} else {
  const res = await runAnalysis({
    design: job.design,
    out: job.out,
    overwrite: true,
    workers: job.workers,
    masking: job.mask ? { explicitMask: job.mask } : {},
    contrasts: [
      { name: 'age +', type: 'T', columns: ['age'], weights: [1] },
      { name: 'age -', type: 'T', columns: ['age'], weights: [-1] },
      { name: 'age or apoe4', type: 'F', columns: ['age', 'apoe4'] },
    ],
    onProgress: (_s, d, t) => {
      if (d % 50 === 0 || d === t) process.stderr.write(`  read ${d}/${t} scans (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    },
  });
  process.stdout.write(
    JSON.stringify({ ms: performance.now() - t0, timings: res.timings, voxels: res.fit.vox.length, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n',
  );
}
