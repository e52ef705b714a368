import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VbmError } from '../errors.js';
import { readVolume } from '../io/nifti/read.js';
import type { Volume } from '../io/nifti/volume.js';
import { type ModelRecord, readModelRecord } from './modelRecord.js';

/** A finished analysis folder, reopened: its record and its images, by name. */
export interface Analysis {
  dir: string;
  record: ModelRecord;
  /** Absolute path of a file in the folder. */
  path(name: string): string;
  /** Read one of the folder's images. */
  image(name: string): Volume;
  /** Find a contrast by 1-based index or by name. */
  contrast(which: number | string): ModelRecord['contrasts'][number];
}

export function openAnalysis(dir: string): Analysis {
  const abs = resolve(dir);
  const record = readModelRecord(abs);
  const path = (name: string): string => join(abs, name);
  return {
    dir: abs,
    record,
    path,
    image(name: string): Volume {
      const p = path(name);
      if (!existsSync(p)) throw new VbmError(`${p} is missing from the analysis folder`, 're-run `vbm run` to recreate it');
      return readVolume(p);
    },
    contrast(which: number | string) {
      const list = record.contrasts;
      const found =
        typeof which === 'number' || /^\d+$/.test(String(which))
          ? list.find((c) => c.index === Number(which))
          : list.find((c) => c.name === which);
      if (!found) {
        throw new VbmError(
          `no contrast ${JSON.stringify(which)} in ${abs}`,
          list.length ? `the contrasts are: ${list.map((c) => `${c.index} '${c.name}'`).join(', ')}` : 'this analysis has no contrasts; add them with vbm run --contrasts',
        );
      }
      return found;
    },
  };
}
