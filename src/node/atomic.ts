import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { processAlive } from './processes.js';

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
 */
export class StagedFiles {
  private readonly staged: { tmp: string; path: string }[] = [];

  write(path: string, data: string | Uint8Array): void {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = temporaryName(path);
    try {
      writeFileSync(tmp, data);
    } catch (e) {
      rmSync(tmp, { force: true }); // a full disk leaves half a file
      throw e;
    }
    this.staged.push({ tmp, path });
  }

  commit(): string[] {
    const done: string[] = [];
    for (const { tmp, path } of this.staged) {
      renameSync(tmp, path);
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
