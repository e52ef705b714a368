import { join } from 'node:path';
import type { StagedFiles } from '../node/atomic.js';
import type { FittedModel } from '../estimation/fit.js';
import type { ContrastMaps } from '../estimation/contrastMaps.js';
import { type ImageJob, contrastImages } from '../estimation/images.js';

// the images' names and bytes are made by the pure estimation/images.ts; these names stay importable from here
export { imageName, pad, toGrid } from '../estimation/images.js';

/**
 * Buffers of written images, handed to the next image of the same size as they are (the encoder
 * sets every byte): memory already mapped instead of fresh pages, whose first touch costs more.
 * A buffer comes back only once its file is written.
 */
export class ImageBuffers {
  private readonly free = new Map<number, ArrayBuffer[]>();

  /** A buffer of `bytes` bytes, a written image's (not cleared: the encoder sets every byte) or a new one. */
  readonly alloc = (bytes: number): ArrayBuffer => this.free.get(bytes)?.pop() ?? new ArrayBuffer(bytes);

  /** `b` is written: the next image of its size may use it. */
  release(b: ArrayBufferLike): void {
    if (!(b instanceof ArrayBuffer)) return;
    const list = this.free.get(b.byteLength) ?? [];
    if (list.length < 4) list.push(b);
    this.free.set(b.byteLength, list);
  }
}

/**
 * Stage images one at a time, each encoded in the buffer of one already written when there is
 * one; between images the writes finished meanwhile hand their buffers back.
 */
export async function stageImageJobs(
  dir: string,
  jobs: ImageJob[],
  staged: StagedFiles,
  buffers: ImageBuffers,
): Promise<void> {
  for (const job of jobs) {
    const bytes = job.encode(buffers.alloc);
    staged.write(join(dir, job.name), bytes, () => buffers.release(bytes.buffer));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Contrast outputs: con/ess float32 NaN outside; spmT/spmF float32 0 outside, with NIfTI intent codes. */
export function stageContrastImages(
  dir: string,
  fit: Omit<FittedModel, 'smoothness'>,
  maps: ContrastMaps,
  staged: StagedFiles,
): { effect: string; stat: string } {
  const { effect, stat } = contrastImages(fit, maps);
  staged.write(join(dir, effect.name), effect.bytes);
  staged.write(join(dir, stat.name), stat.bytes);
  return { effect: effect.name, stat: stat.name };
}
