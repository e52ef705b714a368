import { join } from 'node:path';
import type { StagedFiles } from '../node/atomic.js';
import type { FittedModel } from '../estimation/fit.js';
import type { ContrastMaps } from '../estimation/contrastMaps.js';
import { type ImageJob, type ImageWriter, contrastImages } from '../estimation/images.js';

// the images' names and bytes are made by the pure estimation/images.ts; these names stay importable from here
export { imageName, pad, toGrid } from '../estimation/images.js';

/**
 * Buffers of written images, handed to the next image of the same size as they are (the encoder
 * sets every byte): memory already mapped instead of fresh pages, whose first touch costs more.
 * A buffer comes back only once its file is written.
 */
export class ImageBuffers {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Images handed to writes that have not finished. */
  private writing = 0;
  private readonly waiting: (() => void)[] = [];

  /** A buffer of `bytes` bytes, a written image's (not cleared: the encoder sets every byte) or a new one. */
  readonly alloc = (bytes: number): ArrayBuffer => this.free.get(bytes)?.pop() ?? new ArrayBuffer(bytes);

  /** An image's bytes were handed to a write; `release` is called once it is over. */
  lend(): void {
    this.writing++;
  }

  /** `b`'s write is over (written or failed): the next image of its size may use it. */
  release(b: ArrayBufferLike): void {
    this.writing = Math.max(0, this.writing - 1);
    this.waiting.shift()?.();
    if (!(b instanceof ArrayBuffer)) return;
    const list = this.free.get(b.byteLength) ?? [];
    if (list.length < 4) list.push(b);
    this.free.set(b.byteLength, list);
  }

  /** Resolves once fewer than `n` images are being written. */
  async writingBelow(n: number): Promise<void> {
    while (this.writing >= n) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}

/**
 * Images being written at once. Each one more needs a new buffer (the writes copy ~2 ms per MB into
 * the page cache, slower than the images are made); new memory costs more on its first touch (and
 * in the garbage collector) than the wait, which leaves the CPU to the writes.
 */
export const IMAGES_IN_FLIGHT = 2;

/**
 * Stage images one at a time, each encoded in the buffer of one already written when there is
 * one; between images the writes finished meanwhile hand their buffers back. An image waits
 * while IMAGES_IN_FLIGHT others are being written, so that a few buffers go round.
 */
export async function stageImageJobs(
  dir: string,
  jobs: ImageJob[],
  staged: StagedFiles,
  buffers: ImageBuffers,
): Promise<void> {
  for (const job of jobs) {
    await buffers.writingBelow(IMAGES_IN_FLIGHT);
    const bytes = job.encode(buffers.alloc);
    buffers.lend();
    staged.write(join(dir, job.name), bytes, () => buffers.release(bytes.buffer));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Images staged through a writer that makes each file itself from the image's parts (a native one:
 * estimation/nativeFit.ts nativeImageWriter, on threads of the addon's), at most IMAGES_IN_FLIGHT at once,
 * while this thread goes on. An image without parts (the mask) is encoded here and staged as
 * stageImageJobs stages it.
 */
export class ImageWrites {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    private readonly staged: StagedFiles,
    private readonly writer: ImageWriter,
  ) {}

  /**
   * Queue the jobs' writes; resolves once each is over, written or failed (the values they are made from
   * may then change; staged.flushed() throws a failure).
   */
  add(jobs: ImageJob[]): Promise<void> {
    return Promise.all(jobs.map((job) => this.one(job))).then(() => undefined);
  }

  private one(job: ImageJob): Promise<void> {
    const grid = job.grid;
    const path = join(this.dir, job.name);
    if (!grid) {
      this.staged.write(path, job.encode());
      return Promise.resolve();
    }
    // staged at once (so staged.flushed() waits for it), written once a write slot is free
    return new Promise((resolve) => {
      this.staged.writeWith(
        path,
        async (tmp) => {
          await this.slot();
          try {
            return await this.writer(tmp, grid());
          } finally {
            this.running--;
            this.waiting.shift()?.();
          }
        },
        resolve,
      );
    });
  }

  /** Resolves once fewer than IMAGES_IN_FLIGHT images are being written, taking a slot. */
  private async slot(): Promise<void> {
    while (this.running >= IMAGES_IN_FLIGHT) await new Promise<void>((wake) => this.waiting.push(wake));
    this.running++;
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
