import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';

/** The I/O floor: read each file and decompress it, nothing else. */
let bytes = 0;
for (const p of workerData as string[]) {
  const raw = readFileSync(p);
  const data = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  bytes += data.length;
}
parentPort?.postMessage(bytes);
