/**
 * Stage records and the folder lock: what each stage of an analysis used (a key hashing its
 * inputs and the previous stage's key) and what it wrote (a hash per file), kept in
 * `vbm-stages.json`, so that a re-run skips what is unchanged and recomputes what is damaged.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { temporaryWriter, writeFileAtomic } from '../node/atomic.js';

export const STAGES = [
  'design',
  'check',
  'estimate',
  'contrasts',
  'results',
  'labels',
  'permutations',
  'report',
] as const;
export type StageName = (typeof STAGES)[number];
export const STAGES_FILE = 'vbm-stages.json';
const LOCK_FILE = '.vbm-lock';

export interface StageRecord {
  key: string;
  finished: string;
  seconds: number;
  /** Files written by the stage (names in the folder) and their SHA-256. */
  outputs: Record<string, string>;
  /** Size and modification time of each output when it was hashed: a cheap first check for readers. */
  stats?: Record<string, { size: number; mtimeMs: number }>;
  /** The command that ran the stage (provenance; a later run of another stage does not change it). */
  command?: string;
}

export interface StagesFile {
  format: 'vbm-stages';
  /** Scan fingerprints: a content hash is reused while size and modification time are unchanged. */
  scans: Record<string, { size: number; mtimeMs: number; ino?: number; sha256: string }>;
  stages: Partial<Record<StageName, StageRecord>>;
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

export function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export function readStages(dir: string): StagesFile {
  const p = join(dir, STAGES_FILE);
  if (existsSync(p)) {
    try {
      const s = JSON.parse(readFileSync(p, 'utf8')) as StagesFile;
      if (s.format === 'vbm-stages' && s.stages && s.scans) return s;
    } catch {
      /* unreadable: start afresh */
    }
  }
  return { format: 'vbm-stages', scans: {}, stages: {} };
}

export function writeStages(dir: string, s: StagesFile): void {
  writeFileAtomic(join(dir, STAGES_FILE), JSON.stringify(s, null, 1) + '\n');
}

/** Content hash of a scan, reusing the recorded one while its size, mtime and inode are unchanged. */
export function scanFingerprint(s: StagesFile, path: string): string {
  return knownScanHash(s, path) ?? recordScanHash(s, path, fileSha256(path));
}

/** The recorded content hash of a scan if its size, mtime and inode still match; else undefined. */
export function knownScanHash(s: StagesFile, path: string): string | undefined {
  const st = statSync(path);
  const known = s.scans[path];
  if (
    known &&
    known.size === st.size &&
    known.mtimeMs === st.mtimeMs &&
    (known.ino === undefined || known.ino === st.ino)
  )
    return known.sha256;
  return undefined;
}

/** Record a scan's content hash (computed elsewhere, e.g. while the fit streamed it) with its size, mtime and inode. */
export function recordScanHash(s: StagesFile, path: string, sha256: string): string {
  const st = statSync(path);
  s.scans[path] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
  return sha256;
}

/** Hash every output file of a stage. */
export function hashOutputs(dir: string, files: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) out[f] = fileSha256(join(dir, f));
  return out;
}

/** Size and modification time of each output file. */
export function statOutputs(dir: string, files: string[]): Record<string, { size: number; mtimeMs: number }> {
  const out: Record<string, { size: number; mtimeMs: number }> = {};
  for (const f of files) {
    const st = statSync(join(dir, f));
    out[f] = { size: st.size, mtimeMs: st.mtimeMs };
  }
  return out;
}

/**
 * Whether a file still is what a stage wrote: unchanged size and modification time are taken as
 * yes; otherwise the content hash decides (a copied or touched file is still fine).
 */
export function outputIntact(dir: string, rec: StageRecord, name: string): boolean {
  const want = rec.outputs[name];
  if (want === undefined) return true;
  const p = join(dir, name);
  if (!existsSync(p)) return false;
  const st = statSync(p);
  const known = rec.stats?.[name];
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return true;
  return fileSha256(p) === want;
}

/** Why a recorded stage cannot be reused, or null when it can. */
export function staleReason(dir: string, rec: StageRecord | undefined, key: string): string | null {
  if (!rec) return 'not run yet';
  if (rec.key !== key) return 'inputs changed';
  for (const [f, sha] of Object.entries(rec.outputs)) {
    const p = join(dir, f);
    if (!existsSync(p)) return `output ${f} is missing`;
    if (fileSha256(p) !== sha) return `output ${f} was changed or damaged (its hash differs)`;
  }
  return null;
}

/** Whether a process with this id runs on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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
      if (holder.pid && holder.host === hostname() && alive(holder.pid)) {
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

/** Remove temporary files that interrupted runs left behind (their writers are gone). */
export function removeStaleTemporaries(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) {
    const writer = temporaryWriter(f);
    if (writer !== undefined && (writer === process.pid || !alive(writer))) {
      rmSync(join(dir, f), { force: true });
      n++;
    }
  }
  return n;
}
