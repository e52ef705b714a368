/**
 * Rows of float32 (one per scan, over the same voxels), written once in scan order and read back
 * as column blocks (a range of voxels of every scan). Up to `memoryBytes` they stay in memory;
 * beyond, they go to a temporary file (named as node/atomic's temporaries, so an interrupted run's
 * file is cleaned up) that is deleted on close. Memory is then a constant, not n x voxels.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { temporaryName } from './atomic.js';

export const ROW_STORE_MEMORY = 512 * 1024 * 1024;

export class RowStore {
  readonly n: number;
  readonly width: number;
  private mem: Float32Array | null = null;
  private fd = -1;
  private path = '';
  private written = 0;

  constructor(n: number, width: number, opts: { dir: string; memoryBytes?: number }) {
    this.n = n;
    this.width = width;
    if (n * width * 4 <= (opts.memoryBytes ?? ROW_STORE_MEMORY)) this.mem = new Float32Array(n * width);
    else {
      this.path = temporaryName(join(opts.dir, 'check-rows'));
      this.fd = openSync(this.path, 'w+');
    }
  }

  get onDisk(): boolean {
    return this.mem === null;
  }

  /** Append the next row (rows arrive in order 0..n-1). */
  push(row: Float32Array): void {
    if (this.mem) this.mem.set(row, this.written * this.width);
    else {
      const b = new Uint8Array(row.buffer, row.byteOffset, this.width * 4);
      let off = 0;
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off, this.written * this.width * 4 + off);
    }
    this.written++;
  }

  /** Voxels [c0, c1) of every row into out (row i at out[i * stride + (c - c0)]). */
  readBlock(c0: number, c1: number, out: Float64Array, stride: number): void {
    const w = c1 - c0;
    if (this.mem) {
      for (let i = 0; i < this.n; i++) {
        const base = i * this.width + c0;
        for (let k = 0; k < w; k++) out[i * stride + k] = this.mem[base + k];
      }
      return;
    }
    const buf = new Float32Array(w);
    const bytes = new Uint8Array(buf.buffer);
    for (let i = 0; i < this.n; i++) {
      let off = 0;
      while (off < bytes.length) {
        const got = readSync(this.fd, bytes, off, bytes.length - off, (i * this.width + c0) * 4 + off);
        if (got <= 0) throw new Error(`${this.path}: short read`);
        off += got;
      }
      for (let k = 0; k < w; k++) out[i * stride + k] = buf[k];
    }
  }

  close(): void {
    this.mem = null;
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      rmSync(this.path, { force: true });
    }
  }
}
