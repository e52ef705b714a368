/**
 * The I/O floor, in a fresh process: read (and decompress) every scan once with the given number
 * of threads, and nothing else. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

// the job's file (bench.ts writes it: thousands of paths do not fit one argument)
const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { kind: 'floor'; files: string[]; workers: number };
const t0 = performance.now();
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
process.stdout.write(JSON.stringify({ ms: performance.now() - t0, bytes: bytes.reduce((a, b) => a + b, 0) }) + '\n');
