/**
 * Checkpoints of a long permutation test in two files (a Node shell): `<prefix>.bin` holds the
 * accumulators (null maxima, exceedance counts) byte for byte, `<prefix>.json` the test's key
 * (SHA-256 of its settings and vbm's version), the chunks done and the SHA-256 of the .bin. Both
 * are written under a temporary name and renamed, the .json last, so a crash leaves the previous
 * checkpoint whole; a checkpoint of other settings, or damaged, is ignored with a note.
 */
import { sha256Hex } from '../node/contentHash.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../node/atomic.js';
import { VBM_VERSION } from '../node/version.js';
import type { CheckpointSection, CheckpointStore } from './types.js';

interface CheckpointRecord {
  key: string;
  done: number[];
  bin: string;
  binSha256: string;
}

/** The key of a test: its settings and vbm's version (another version may draw or sum differently). */
function testKey(settings: object): string {
  return sha256Hex(JSON.stringify({ v: VBM_VERSION, ...settings }));
}

/** The checkpoint files `<prefix>.json` and `<prefix>.bin`. */
export function fileCheckpoint(prefix: string): CheckpointStore {
  const json = `${prefix}.json`;
  const bin = `${prefix}.bin`;
  return {
    where: json,
    load(settings: object, sections: CheckpointSection[], onNote?: (message: string) => void): number[] | null {
      if (!existsSync(json) || !existsSync(bin)) return null;
      try {
        const ck = JSON.parse(readFileSync(json, 'utf8')) as CheckpointRecord;
        const bytes = readFileSync(bin);
        if (ck.key !== testKey(settings)) {
          onNote?.('a checkpoint from other settings was found and is ignored');
          return null;
        }
        if (sha256Hex(bytes) !== ck.binSha256) {
          onNote?.('the checkpoint is damaged (its content hash differs) and is ignored: starting afresh');
          return null;
        }
        let off = 0;
        for (const s of sections) {
          new Uint8Array(s.buffer, s.byteOffset, s.byteLength).set(bytes.subarray(off, off + s.byteLength));
          off += s.byteLength;
        }
        return ck.done;
      } catch {
        onNote?.('the checkpoint could not be read and is ignored');
        return null;
      }
    },
    save(settings: object, done: number[], sections: CheckpointSection[]): void {
      const total = sections.reduce((acc, s) => acc + s.byteLength, 0);
      const buf = new Uint8Array(total);
      let off = 0;
      for (const s of sections) {
        buf.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), off);
        off += s.byteLength;
      }
      writeFileAtomic(bin, buf);
      const ck: CheckpointRecord = { key: testKey(settings), done, bin, binSha256: sha256Hex(buf) };
      writeFileAtomic(json, JSON.stringify(ck));
    },
    clear(): void {
      rmSync(json, { force: true });
      rmSync(bin, { force: true });
    },
  };
}
