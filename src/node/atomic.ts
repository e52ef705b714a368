import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFile as writeFileInBackground,
  writeFileSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { processAlive } from './processes.js';
import { bytesContentHash, rememberWrittenHash } from './contentHash.js';

/** The temporary name a file is written under before it is renamed into place: `.NAME.tmp-PID-RANDOM`. */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/** The process that wrote a temporary file (a name made by temporaryName), or undefined for other names. */
export function temporaryWriter(fileName: string): number | undefined {
  const m = /^\..+\.tmp-(\d+)-[a-z0-9]+$/.exec(fileName);
  return m ? Number(m[1]) : undefined;
}

/** Write a file completely under a temporary name, then rename it: readers never see half a file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = temporaryName(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Files staged under temporary names and renamed together by `commit()`: a set of outputs
 * appears whole or not at all (up to the renames themselves, which are quick).
 * With `{ background: true }` the bytes are written by libuv's threads while this thread goes on
 * computing the next file: await `flushed()` before `commit()` (and before `abort()`).
 */
export class StagedFiles {
  private readonly staged: { tmp: string; path: string; hash?: string }[] = [];
  /** Background writes in flight: each resolves to its error, or undefined (never rejects). */
  private readonly pending: Promise<Error | undefined>[] = [];

  /**
   * `background`: see above. `hashes`: hash each file's bytes as it is staged and remember the
   * hash when it is committed (node/contentHash.ts writtenFileContentHash), so that recording the
   * outputs' hashes does not read them back.
   */
  constructor(private readonly opts: { background?: boolean; hashes?: boolean } = {}) {}

  /**
   * Stage `data` as `path`; `onWritten` is called once the write is over (data may then be reused),
   * also when it failed (flushed() then throws).
   */
  write(path: string, data: string | Uint8Array, onWritten?: () => void): void {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = temporaryName(path);
    const hash = this.opts.hashes
      ? bytesContentHash(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
      : undefined;
    if (this.opts.background) {
      this.staged.push({ tmp, path, hash });
      // fs.writeFile with a callback hands the whole buffer to one write on libuv's thread; the
      // promise API writes 512 KiB at a time, each next piece waiting for this (busy) thread
      const settle = (e: Error | null, resolve: (e: Error | undefined) => void): void => {
        onWritten?.();
        // fs.writeFile's error from write() (ENOSPC...) has no path: errors.ts then could not name the file
        if (e && (e as { path?: string }).path === undefined) Object.assign(e, { path: tmp });
        resolve(e ?? undefined);
      };
      this.pending.push(
        new Promise((resolve) => {
          // a throw before the write starts (bad arguments) settles too: a waiting image never hangs
          try {
            writeFileInBackground(tmp, data, (e) => settle(e, resolve));
          } catch (e) {
            settle(e instanceof Error ? e : new Error('fs.writeFile threw a non-Error', { cause: e }), resolve);
          }
        }),
      );
      return;
    }
    try {
      writeFileSync(tmp, data);
    } catch (e) {
      rmSync(tmp, { force: true }); // a full disk leaves half a file
      throw e;
    }
    onWritten?.();
    this.staged.push({ tmp, path, hash });
  }

  /**
   * Stage a file that `make` writes itself, at the temporary name it is given, in the background (whatever
   * `background` says); `make` resolves to the bytes' content hash, remembered on commit when hashing.
   * `onWritten` as write's. flushed() waits for it and throws its error.
   */
  writeWith(path: string, make: (tmp: string) => Promise<string>, onWritten?: () => void): void {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = temporaryName(path);
    const entry: { tmp: string; path: string; hash?: string } = { tmp, path };
    this.staged.push(entry);
    let made: Promise<string>;
    try {
      made = make(tmp);
    } catch (e) {
      made = Promise.reject(e instanceof Error ? e : new Error('an image writer threw a non-Error', { cause: e }));
    }
    this.pending.push(
      made.then(
        (hash) => {
          if (this.opts.hashes) entry.hash = hash;
          onWritten?.();
          return undefined;
        },
        (e: unknown) => {
          onWritten?.();
          return e instanceof Error ? e : new Error('an image writer failed with a non-Error', { cause: e });
        },
      ),
    );
  }

  /** Wait for the background writes; throws the first one's error (abort() then removes the files). */
  async flushed(): Promise<void> {
    const errors = (await Promise.all(this.pending.splice(0))).filter((e) => e !== undefined);
    if (errors.length) throw errors[0];
  }

  commit(): string[] {
    if (this.pending.length) throw new Error('internal: StagedFiles.commit() before flushed()');
    const done: string[] = [];
    for (const { tmp, path, hash } of this.staged) {
      renameSync(tmp, path);
      if (hash !== undefined) rememberWrittenHash(path, hash);
      done.push(path);
    }
    this.staged.length = 0;
    return done;
  }

  abort(): void {
    for (const { tmp } of this.staged) rmSync(tmp, { force: true });
    this.staged.length = 0;
  }
}

/** Remove temporary files that interrupted runs left behind (their writers are gone). */
export function removeStaleTemporaries(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) {
    const writer = temporaryWriter(f);
    if (writer !== undefined && (writer === process.pid || !processAlive(writer))) {
      rmSync(join(dir, f), { force: true });
      n++;
    }
  }
  return n;
}
