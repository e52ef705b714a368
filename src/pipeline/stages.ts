/**
 * Stage records: what each stage of an analysis used (a key hashing its
 * inputs and the previous stage's key) and what it wrote (a hash per file), kept in
 * `vbm-stages.json`, so that a re-run skips what is unchanged and recomputes what is damaged.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../node/atomic.js';
import { fileContentHash, fileHasDigest, sha256Hex, writtenFileContentHash } from '../node/contentHash.js';

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

export interface StageRecord {
  key: string;
  finished: string;
  seconds: number;
  /** Files written by the stage (names in the folder) and their content hashes (node/contentHash.ts). */
  outputs: Record<string, string>;
  /** Size and modification time of each output when it was hashed: a cheap first check for readers. */
  stats?: Record<string, { size: number; mtimeMs: number }>;
  /** The command that ran the stage (provenance; a later run of another stage does not change it). */
  command?: string;
}

export interface StagesFile {
  format: 'vbm-stages';
  /**
   * Scan fingerprints: a content hash is reused while size, modification time and inode are
   * unchanged. `hash`: node/contentHash.ts (or an earlier vbm's XXH3-64); entries of an earlier vbm hold `sha256`
   * (still used while the file is unchanged, so its folders stay cached).
   */
  scans: Record<string, { size: number; mtimeMs: number; ino?: number; hash?: string; sha256?: string }>;
  stages: Partial<Record<StageName, StageRecord>>;
}

/** A stage key: the first 32 hex digits of the SHA-256 of a value's JSON. */
export function hashOf(value: unknown): string {
  return sha256Hex(JSON.stringify(value)).slice(0, 32);
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
  return knownScanHash(s, path) ?? recordScanHash(s, path, fileContentHash(path));
}

/** The recorded content hash of a scan if its size, mtime and inode still match; else undefined. */
export function knownScanHash(s: StagesFile, path: string): string | undefined {
  const known = s.scans[path];
  // nothing recorded (a new folder): no stat needed
  if (!known) return undefined;
  const st = statSync(path);
  if (known.size === st.size && known.mtimeMs === st.mtimeMs && (known.ino === undefined || known.ino === st.ino))
    return known.hash ?? known.sha256;
  return undefined;
}

/** Record a scan's content hash (computed elsewhere, e.g. while the fit streamed it) with its size, mtime and inode. */
export function recordScanHash(s: StagesFile, path: string, hash: string): string {
  const st = statSync(path);
  s.scans[path] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash };
  return hash;
}

/** Hash every output file of a stage (from the bytes written, when the stage staged them with hashes). */
export function hashOutputs(dir: string, files: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) out[f] = writtenFileContentHash(join(dir, f));
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
  return fileHasDigest(p, want);
}

/** Why a recorded stage cannot be reused, or null when it can. */
export function staleReason(dir: string, rec: StageRecord | undefined, key: string): string | null {
  if (!rec) return 'not run yet';
  if (rec.key !== key) return 'inputs changed';
  for (const [f, digest] of Object.entries(rec.outputs)) {
    const p = join(dir, f);
    if (!existsSync(p)) return `output ${f} is missing`;
    if (!fileHasDigest(p, digest)) return `output ${f} was changed or damaged (its hash differs)`;
  }
  return null;
}
