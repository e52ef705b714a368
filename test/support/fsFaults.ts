/**
 * Preloaded (node --import) into a child vbm process by the hardening tests to simulate a full
 * disk or a read-only file system at the write layer (root ignores permissions, and tests
 * cannot mount file systems). VBM_TEST_FS_FAULT = 'ENOSPC:<dir>' makes writes of more than
 * 4 KiB under <dir> stop half-way with ENOSPC (a disk with a few bytes left); 'EROFS:<dir>' makes every write, mkdir and rename under <dir>
 * fail with EROFS. Node's ESM named exports of node:fs are re-synced so vbm's imports see it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';

const spec = process.env.VBM_TEST_FS_FAULT ?? '';
const m = /^(ENOSPC|EROFS):(.+)$/.exec(spec);
if (m) {
  const code = m[1];
  const root = resolve(m[2]);
  const under = (p: unknown): boolean => typeof p === 'string' && resolve(p).startsWith(root);
  const fail = (syscall: string, path: string): never => {
    const e = new Error(`${code}: simulated, ${syscall} '${path}'`) as NodeJS.ErrnoException;
    e.code = code;
    e.syscall = syscall;
    e.path = path;
    e.errno = code === 'ENOSPC' ? -28 : -30;
    throw e;
  };
  const origWrite = fs.writeFileSync;
  fs.writeFileSync = (
    p: fs.PathOrFileDescriptor,
    data: string | NodeJS.ArrayBufferView,
    opts?: fs.WriteFileOptions,
  ) => {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (under(p) && (code === 'EROFS' || size > 4096)) {
      if (code === 'ENOSPC') {
        // half the bytes reach the disk, then it is full
        const bytes =
          typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        origWrite(p, bytes.subarray(0, bytes.length >> 1), opts);
      }
      fail('write', String(p));
    }
    return origWrite(p, data, opts);
  };
  // the same fault for writes that libuv's threads do (vbm run's background writes)
  const origWriteAsync = fsp.writeFile;
  fsp.writeFile = (async (p: string, data: string | NodeJS.ArrayBufferView, opts?: fs.WriteFileOptions) => {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (under(p) && (code === 'EROFS' || size > 4096)) fs.writeFileSync(p, data, opts);
    return origWriteAsync(p, data, opts);
  }) as typeof fsp.writeFile;
  // and through the callback API (StagedFiles' background writes: one write of the whole buffer)
  const origWriteCallback = fs.writeFile;
  fs.writeFile = ((p: string, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    const done = rest[rest.length - 1] as (e: NodeJS.ErrnoException | null) => void;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (under(p) && (code === 'EROFS' || size > 4096)) {
      try {
        fs.writeFileSync(p, data);
      } catch (e) {
        process.nextTick(() => done(e as NodeJS.ErrnoException));
        return;
      }
    }
    (origWriteCallback as (...a: unknown[]) => void)(p, data, ...rest);
  }) as typeof fs.writeFile;
  if (code === 'EROFS') {
    const origMkdir = fs.mkdirSync;
    fs.mkdirSync = ((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
      if (under(p) && !fs.existsSync(p)) fail('mkdir', String(p));
      return origMkdir(p, o);
    }) as typeof fs.mkdirSync;
    const origRename = fs.renameSync;
    fs.renameSync = (a: fs.PathLike, b: fs.PathLike) => (under(b) ? fail('rename', String(b)) : origRename(a, b));
    const origRm = fs.rmSync;
    fs.rmSync = (p: fs.PathLike, o?: fs.RmOptions) =>
      under(p) && fs.existsSync(p) ? fail('unlink', String(p)) : origRm(p, o);
  }
  syncBuiltinESMExports();
}
