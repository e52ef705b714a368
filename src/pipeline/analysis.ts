import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VbmError } from '../errors.js';
import { readVolume, readVolume64 } from '../node/nifti/read.js';
import {
  STAGES,
  STAGES_FILE,
  type StageName,
  type StageRecord,
  type StagesFile,
  outputIntact,
  readStages,
} from './stages.js';
import type { Volume } from '../io/nifti/volume.js';
import { type ModelRecord, readModelRecord } from './modelRecord.js';

/** A finished analysis folder, reopened: its record and its images, by name. */
export interface Analysis {
  dir: string;
  record: ModelRecord;
  /** Absolute path of a file in the folder. */
  path(name: string): string;
  /** Read one of the folder's images (verified against vbm-stages.json first). */
  image(name: string): Volume;
  /** Read one of the folder's images at float64 (verified first). */
  image64(name: string): { dims: [number, number, number]; affine: number[][]; data: Float64Array };
  /**
   * Refuse a file that differs from what the stage that wrote it recorded in vbm-stages.json
   * (size and mtime first, the SHA-256 when they differ). Files no stage recorded pass.
   */
  verify(name: string): void;
  /** Find a contrast by 1-based index or by name. */
  contrast(which: number | string): ModelRecord['contrasts'][number];
}

/**
 * Open an analysis folder written by `vbm run`: its model record, and its images and contrasts by
 * name, checked against the hashes vbm wrote. `stages`: the stage records to verify files against, held and
 * updated by the caller (the pipeline, whose stages write files while the analysis is open); by
 * default vbm-stages.json as it is now.
 */
export function openAnalysis(dir: string, opts: { stages?: StagesFile } = {}): Analysis {
  const abs = resolve(dir);
  const record = readModelRecord(abs);
  const path = (name: string): string => join(abs, name);
  // which stage wrote a file, from the stage records (absent for analyses made by the library alone)
  const stages = opts.stages ?? (existsSync(join(abs, STAGES_FILE)) ? readStages(abs) : undefined);
  const writtenBy = (name: string): { stage: StageName; rec: StageRecord } | undefined => {
    let found: { stage: StageName; rec: StageRecord } | undefined;
    for (const stage of STAGES) {
      const rec = stages?.stages[stage];
      if (rec && name in rec.outputs) found = { stage, rec };
    }
    return found;
  };
  const verified = new Set<string>();
  const verify = (name: string): void => {
    const p = path(name);
    if (!existsSync(p))
      throw new VbmError(`${p} is missing from the analysis folder`, 're-run `vbm run` to recreate it');
    const w = writtenBy(name);
    if (!w || verified.has(name)) return;
    if (!outputIntact(abs, w.rec, name)) {
      throw new VbmError(
        `${p} is not the file vbm wrote (its content differs from the SHA-256 that the ${w.stage} stage recorded in ${STAGES_FILE}): it was changed, damaged or replaced`,
        `recompute it: ${w.rec.command ? `run again \`${w.rec.command}\`` : 'run the same `vbm run` again'} (a damaged output is recomputed), or \`vbm run ... --from ${w.stage}\``,
      );
    }
    verified.add(name);
  };
  return {
    dir: abs,
    record,
    path,
    verify,
    image(name: string): Volume {
      verify(name);
      return readVolume(path(name));
    },
    image64(name: string) {
      verify(name);
      return readVolume64(path(name));
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
          list.length
            ? `the contrasts are: ${list.map((c) => `${c.index} '${c.name}'`).join(', ')}`
            : 'this analysis has no contrasts; add them with vbm run --contrasts',
        );
      }
      return found;
    },
  };
}
