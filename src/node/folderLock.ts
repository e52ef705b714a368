/**
 * The lock of an output folder (`.vbm-lock`: process id, host, start time), so that two vbm runs
 * never write one analysis at once; a lock left by a process that no longer runs is taken over.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { processAlive } from './processes.js';

const LOCK_FILE = '.vbm-lock';

/**
 * Take the folder's lock, refusing when another live vbm holds it. A lock left by a process
 * that no longer runs (killed) is taken over. Returns the release function.
 */
export function lockFolder(dir: string, note: (m: string) => void = () => undefined): () => void {
  const p = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(p, mine, { flag: 'wx' });
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(p, 'utf8') === mine) rmSync(p, { force: true });
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        // 'wx' created the file, then the write failed (a full disk): the half-written lock is ours
        if (existsSync(p)) rmSync(p, { force: true });
        throw e;
      }
      type Holder = { pid?: number; host?: string; started?: string };
      let holder: Holder = {};
      try {
        holder = JSON.parse(readFileSync(p, 'utf8')) as Holder;
      } catch {
        /* half-written lock: treat as stale */
      }
      if (holder.pid && holder.host === hostname() && processAlive(holder.pid)) {
        throw new VbmError(
          `another vbm (process ${holder.pid}, started ${holder.started}) is working on ${dir}`,
          `wait for it to finish; if it is not running any more, delete ${p}`,
        );
      }
      if (holder.pid && holder.host && holder.host !== hostname()) {
        throw new VbmError(
          `${dir} is locked by vbm on another machine (${holder.host}, process ${holder.pid})`,
          `if that run is over, delete ${p}`,
        );
      }
      note(`a lock left by an interrupted run (process ${holder.pid ?? '?'}) was taken over`);
      rmSync(p, { force: true });
    }
  }
  throw new VbmError(`could not lock ${dir}`);
}
