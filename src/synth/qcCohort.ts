/**
 * A cohort for quality checks: modulated grey-matter-like scans (the phantom's density times a
 * subject's Jacobian: a global factor TIV / 1900 and a gentle linear gradient), with a TIV
 * column, and scans that can be spoiled the ways real VBM scans go wrong: left unmodulated
 * (density only), misregistered (shifted 10 mm along y), or stored on another intensity scale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Affine, applyAffine } from '../io/nifti/affine.js';
import { encodeNifti } from '../node/nifti/write.js';
import { DT } from '../io/nifti/datatypes.js';
import { makeCohort } from './phantom.js';
import { Rng } from './random.js';

/** The faults a QC cohort can plant in a scan. */
export type ScanFault = 'unmodulated' | 'misregistered' | 'rescaled';

export interface QcCohortOptions {
  n: number;
  dims: [number, number, number];
  voxelMm: number;
  seed?: number;
  storage?: 'LAS' | 'RAS';
  noiseSd?: number;
  /** Shift of a misregistered scan, mm along y (default 10). */
  shiftMm?: number;
  /** Factor of a rescaled scan (default 1.3). */
  rescale?: number;
  /** Amplitude of the Jacobian's linear gradient per SD of its random slope (default 0.02). */
  gradient?: number;
}

export interface QcCohort {
  affine: Affine;
  dims: [number, number, number];
  tiv: number[];
  age: number[];
  /** Subject i's scan, spoiled by `fault` if given. */
  scan(i: number, fault?: ScanFault): Float32Array;
}

/** The TIV that maps to a Jacobian factor of 1. */
export const TIV_REFERENCE = 1900;

/** A synthetic cohort with faulty scans planted (unmodulated, misregistered, rescaled), to test the sample check. */
export function makeQcCohort(o: QcCohortOptions): QcCohort {
  const base = makeCohort({
    n: o.n,
    dims: o.dims,
    voxelMm: o.voxelMm,
    seed: o.seed ?? 1,
    storage: o.storage,
    noiseSd: o.noiseSd ?? 0.05,
  });
  const rng = new Rng((o.seed ?? 1) * 7919 + 17);
  const tiv = Array.from({ length: o.n }, () => Math.round(1500 + 150 * rng.normal()));
  const grad = Array.from({ length: o.n }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const nvox = o.dims[0] * o.dims[1] * o.dims[2];
  const world = new Float32Array(nvox * 3);
  for (let k = 0, i = 0; k < o.dims[2]; k++)
    for (let j = 0; j < o.dims[1]; j++)
      for (let x = 0; x < o.dims[0]; x++, i++) world.set(applyAffine(base.affine, x, j, k), i * 3);
  const [nx, ny, nz] = o.dims;
  const gAmp = o.gradient ?? 0.02;
  const shiftVox = ((o.shiftMm ?? 10) / Math.abs(base.affine[1][1])) * Math.sign(base.affine[1][1]);
  return {
    affine: base.affine,
    dims: o.dims,
    tiv,
    age: base.covariates.age,
    scan(i: number, fault?: ScanFault): Float32Array {
      const density = base.scan(i);
      if (fault === 'unmodulated') return density;
      const s = tiv[i] / TIV_REFERENCE;
      const [a, b, c] = grad[i];
      const out = new Float32Array(nvox);
      for (let v = 0; v < nvox; v++) {
        const jac =
          s * (1 + gAmp * ((a * world[v * 3]) / 70 + (b * world[v * 3 + 1]) / 90 + (c * world[v * 3 + 2]) / 60));
        out[v] = density[v] * jac;
      }
      if (fault === 'rescaled') for (let v = 0; v < nvox; v++) out[v] *= o.rescale ?? 1.3;
      if (fault !== 'misregistered') return out;
      // the brain moved shiftMm towards +y: out(j) = in(j - shift), linear between voxels
      const moved = new Float32Array(nvox);
      const j0 = Math.floor(shiftVox);
      const f = shiftVox - j0;
      for (let k = 0; k < nz; k++)
        for (let j = 0; j < ny; j++)
          for (let x = 0; x < nx; x++) {
            const ja = j - j0;
            const jb = ja - 1;
            const va = ja >= 0 && ja < ny ? out[x + nx * (ja + ny * k)] : 0;
            const vb = jb >= 0 && jb < ny ? out[x + nx * (jb + ny * k)] : 0;
            moved[x + nx * (j + ny * k)] = (1 - f) * va + f * vb;
          }
      return moved;
    },
  };
}

/** Write the cohort's scans and design.csv (scan, age, tiv); `faults` spoils the scans of some rows (0-based). */
export function writeQcCohort(dir: string, c: QcCohort, faults: Map<number, ScanFault> = new Map()): string {
  mkdirSync(join(dir, 'scans'), { recursive: true });
  const lines = ['scan,age,tiv'];
  for (let i = 0; i < c.tiv.length; i++) {
    const name = `scans/mwp1sub-${String(i + 1).padStart(4, '0')}.nii`;
    writeFileSync(
      join(dir, name),
      encodeNifti(
        { dims: c.dims, affine: c.affine, data: c.scan(i, faults.get(i)) },
        { datatype: DT.FLOAT32, descrip: 'vbm synthetic modulated GM' },
      ),
    );
    lines.push(`${name},${c.age[i]},${c.tiv[i]}`);
  }
  const design = join(dir, 'design.csv');
  writeFileSync(design, lines.join('\n') + '\n');
  return design;
}
