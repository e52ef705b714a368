/**
 * The scratch file of a larger-than-memory permutation test (the Node shell around voxelBlocks.ts's
 * plan): the data matrix written once in voxel blocks, each block the scans' rows over its voxels
 * (float32, rows padded to 8 voxels, contiguous), so that a pass reads a block in one positional read
 * straight into the kernel's memory. Written under a temporary name in the analysis folder and
 * removed when the test ends. `fileScratch` is the ScratchStore service that permute.ts hands the
 * pure test (permutationTest.ts, streamed.ts); streamWork.ts opens the file in the pool's threads.
 */
import { closeSync, openSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { processAlive } from '../node/processes.js';
import type { ScanVisitor, ScratchStore } from './types.js';
import type { StreamPlan, VoxelBlock } from './voxelBlocks.js';

/** Largest single read or write (Node refuses more than 2 GB per call). */
const IO_MAX = 1 << 30;

function bytesOf(a: Float32Array, floats: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, floats * 4);
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const len = Math.min(IO_MAX, into.length - done);
    const got = readSync(fd, into, done, len, position + done);
    if (got <= 0) throw new Error(`scratch file ended early (${done} of ${into.length} bytes at ${position})`);
    done += got;
  }
}

function writeFully(fd: number, from: Uint8Array, position: number): void {
  let done = 0;
  while (done < from.length) done += writeSync(fd, from, done, Math.min(IO_MAX, from.length - done), position + done);
}

/** Reads (and rewrites, when opened for it) of the blocks, one per thread. */
export class ScratchReader {
  private readonly fd: number;
  constructor(
    readonly path: string,
    private readonly n: number,
    writable = false,
  ) {
    this.fd = openSync(path, writable ? 'r+' : 'r');
  }
  /** Block `b`'s rows from `from`, in place. */
  write(b: VoxelBlock, from: Float32Array): void {
    writeFully(this.fd, bytesOf(from, this.n * b.stride), b.offset);
  }
  /** Block `b`'s rows into `into` (n x b.stride floats). */
  read(b: VoxelBlock, into: Float32Array): void {
    readFully(this.fd, bytesOf(into, this.n * b.stride), b.offset);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** The scratch file while the scans are written into its blocks. */
export class ScratchWriter {
  private readonly fd: number;
  private readonly rows: Float32Array;
  private pending = 0;
  private first = 0;
  private readonly transposed: Float32Array;
  constructor(
    readonly path: string,
    private readonly plan: StreamPlan,
    private readonly n: number,
    private readonly V: number,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
    this.rows = new Float32Array(plan.scansPerWrite * V);
    this.transposed = new Float32Array(plan.scansPerWrite * Math.ceil(plan.blockVoxels / 8) * 8);
  }

  /** Scan i's V values (scans come in order 0..n-1). */
  addScan(i: number, values: ArrayLike<number>): void {
    if (i !== this.first + this.pending) throw new Error(`scratch file: scan ${i} out of order`);
    this.rows.set(values, this.pending * this.V);
    if (++this.pending === this.plan.scansPerWrite) this.flush();
  }

  /** Write the gathered scans into every block (their rows are contiguous within a block). */
  flush(): void {
    const k = this.pending;
    if (!k) return;
    for (const b of this.plan.blocks) {
      const t = this.transposed;
      t.fill(0, 0, k * b.stride);
      for (let r = 0; r < k; r++) t.set(this.rows.subarray(r * this.V + b.v0, r * this.V + b.v0 + b.V), r * b.stride);
      writeFully(this.fd, bytesOf(t, k * b.stride), b.offset + this.first * b.stride * 4);
    }
    this.first += k;
    this.pending = 0;
  }

  /** All scans written: check the count. */
  finish(): void {
    this.flush();
    if (this.first !== this.n) throw new Error(`scratch file: ${this.first} of ${this.n} scans were written`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function removeScratch(path: string): void {
  rmSync(path, { force: true });
}

const TAG = '.scratch-';

/** A fresh scratch path for this process: `<prefix>.scratch-<host>-<pid>-<time>`. */
export function scratchPath(prefix: string): string {
  return `${prefix}${TAG}${hostname().replace(/[^A-Za-z0-9.]/g, '_')}-${process.pid}-${Date.now()}`;
}

/**
 * Remove scratch files of `prefix` left by processes of this host that no longer run (a process
 * killed by a signal cannot remove its own). Files of other hosts (tasks on a shared filesystem)
 * are left alone: their processes cannot be checked from here.
 */
export function removeStaleScratch(prefix: string): void {
  const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
  const start = `${basename(prefix)}${TAG}${host}-`;
  let names: string[];
  try {
    names = readdirSync(dirname(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(start)) continue;
    const pid = Number(name.slice(start.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (!processAlive(pid)) rmSync(join(dirname(prefix), name), { force: true });
  }
}

/**
 * The scratch files of `prefix` (`<prefix>.scratch-<host>-<pid>-<time>`): stale ones of dead
 * processes are removed when a new one is made, and each is removed when the test ends or, at the
 * latest, when this process exits.
 */
export function fileScratch(prefix: string): ScratchStore {
  const onExit = new Map<string, () => void>();
  const remove = (path: string): void => {
    removeScratch(path);
    const f = onExit.get(path);
    if (f) process.off('exit', f);
    onExit.delete(path);
  };
  return {
    create(plan: StreamPlan, n: number, V: number, scans: ScanVisitor, at?: string): string {
      if (at !== undefined) {
        // shared by the tasks of a job: replaces what a failed attempt left, and stays when the test ends
        removeScratch(at);
        const writer = new ScratchWriter(at, plan, n, V);
        try {
          scans((i, values) => writer.addScan(i, values));
          writer.finish();
        } finally {
          writer.close();
        }
        return at;
      }
      removeStaleScratch(prefix);
      const path = scratchPath(prefix);
      const f = (): void => removeScratch(path);
      onExit.set(path, f);
      process.on('exit', f);
      try {
        const writer = new ScratchWriter(path, plan, n, V);
        try {
          scans((i, values) => writer.addScan(i, values));
          writer.finish();
        } finally {
          writer.close();
        }
      } catch (e) {
        remove(path);
        throw e;
      }
      return path;
    },
    open: (path: string, n: number, writable: boolean) => new ScratchReader(path, n, writable),
    remove,
  };
}
