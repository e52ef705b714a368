/**
 * The demo study: a small VBM cohort built on real anatomy, the ICBM152 2009a grey-matter
 * template vbm ships. Each subject's "smoothed modulated grey matter" map is the template on a
 * 3 mm MNI grid, scaled a little with head size (TIV), with smooth individual variation (Gaussian
 * noise smoothed to 8 mm FWHM, in proportion to the grey matter there), and two planted effects:
 * grey matter falling with age in both hippocampi, and less grey matter in patients than in
 * controls in the left middle frontal gyrus (centres chosen well inside AAL's Hippocampus_L,
 * Hippocampus_R and Frontal_Mid_L). The spreadsheet holds text columns too (sex F/M, group
 * control/patient) beside numeric ones (age, patient 0/1, tiv), as real ones do.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Affine, applyAffine } from '../io/nifti/affine.js';
import { DT } from '../io/nifti/datatypes.js';
import type { Volume } from '../io/nifti/volume.js';
import { encodeNifti } from '../node/nifti/write.js';
import { worldSampler } from '../io/nifti/resample.js';
import { mniLikeAffine } from './phantom.js';
import { Rng } from './random.js';
import { gaussianSmooth } from './smooth.js';

/** Where the demo's effects are planted (mm, MNI) and the AAL region each centre lies in. */
export const DEMO_EFFECTS = [
  { name: 'age', region: 'Hippocampus_L', centreMm: [-26, -20, -14] as [number, number, number], sigmaMm: 5 },
  { name: 'age', region: 'Hippocampus_R', centreMm: [28, -20, -12] as [number, number, number], sigmaMm: 5 },
  { name: 'patient', region: 'Frontal_Mid_L', centreMm: [-36, 30, 38] as [number, number, number], sigmaMm: 6 },
];

export interface DemoSubject {
  age: number;
  sex: 'F' | 'M';
  group: 'control' | 'patient';
  patient: 0 | 1;
  tiv: number;
}

/** The demo study: its grid, the template on it, its subjects and each subject's scan. */
export interface DemoStudy {
  dims: [number, number, number];
  affine: Affine;
  /** The template's grey-matter probability on the study grid. */
  template: Float32Array;
  subjects: DemoSubject[];
  scan(i: number): Float32Array;
}

export interface DemoOptions {
  n?: number;
  seed?: number;
  /** Grey-matter loss per SD of age at the hippocampal centres, as a fraction of the template (default 0.075). */
  ageEffect?: number;
  /** Patients' grey-matter deficit at the frontal centre, as a fraction of the template (default 0.11). */
  groupEffect?: number;
  /** SD of the individual variation, as a fraction of the template (default 0.065). */
  noise?: number;
}

/** The template on the demo's 3 mm grid: the mean of 27 trilinear samples over each voxel's cube. */
function templateOnGrid(t: Volume, dims: [number, number, number], affine: Affine): Float32Array {
  const s = worldSampler(t, 'linear');
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  let n = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, n++) {
        const [x, y, z] = applyAffine(affine, i, j, k);
        let sum = 0;
        for (const a of [-1, 0, 1])
          for (const b of [-1, 0, 1])
            for (const c of [-1, 0, 1]) {
              const v = s(x + a, y + b, z + c);
              if (Number.isFinite(v)) sum += v;
            }
        out[n] = sum / 27;
      }
  return out;
}

/** A synthetic demo study on a grey-matter template: subjects with ages and groups, and scans (made on demand) with age and patient effects planted. */
export function makeDemoStudy(template: Volume, o: DemoOptions = {}): DemoStudy {
  const n = o.n ?? 40;
  const rng = new Rng(o.seed ?? 2026);
  const dims: [number, number, number] = [61, 73, 61];
  const affine = mniLikeAffine(dims, 3, 'LAS');
  const gm = templateOnGrid(template, dims, affine);
  const subjects: DemoSubject[] = Array.from({ length: n }, (_, i) => {
    const sex = rng.uniform() < 0.5 ? 'F' : 'M';
    const patient = (i % 2) as 0 | 1;
    return {
      age: Math.round((25 + 55 * rng.uniform()) * 10) / 10,
      sex,
      group: patient ? 'patient' : 'control',
      patient,
      tiv: Math.round((sex === 'M' ? 1580 : 1420) + 110 * rng.normal()),
    };
  });
  const mean = (f: (s: DemoSubject) => number): number => subjects.reduce((a, s) => a + f(s), 0) / n;
  const ageMean = mean((s) => s.age);
  const ageSd = Math.sqrt(subjects.reduce((a, s) => a + (s.age - ageMean) ** 2, 0) / (n - 1));
  const tivMean = mean((s) => s.tiv);
  const nv = gm.length;
  const blob = (c: number[], sigma: number): Float32Array => {
    const out = new Float32Array(nv);
    let q = 0;
    for (let k = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++, q++) {
          const [x, y, z] = applyAffine(affine, i, j, k);
          out[q] = Math.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) / (2 * sigma * sigma));
        }
    return out;
  };
  const ageMap = new Float32Array(nv);
  const groupMap = new Float32Array(nv);
  for (const e of DEMO_EFFECTS) {
    const b = blob(e.centreMm, e.sigmaMm);
    const into = e.name === 'age' ? ageMap : groupMap;
    for (let q = 0; q < nv; q++) into[q] += b[q];
  }
  const fwhmVox = 8 / 3;
  const noiseSd = o.noise ?? 0.065;
  const ageEffect = o.ageEffect ?? 0.075;
  const groupEffect = o.groupEffect ?? 0.11;
  // each subject's noise field is drawn from the seeded generator in subject order, so scan(i) is reproducible in any order
  const seeds = subjects.map(() => Math.floor(rng.uniform() * 2 ** 31));
  return {
    dims,
    affine,
    template: gm,
    subjects,
    scan(i: number): Float32Array {
      const s = subjects[i];
      const r = new Rng(seeds[i]);
      const white = new Float32Array(nv);
      for (let q = 0; q < nv; q++) white[q] = r.normal();
      const field = gaussianSmooth(white, dims, [fwhmVox, fwhmVox, fwhmVox]);
      let s2 = 0;
      for (let q = 0; q < nv; q++) s2 += field[q] * field[q];
      const unit = 1 / Math.sqrt(s2 / nv);
      const scale = 1 + 0.1 * ((s.tiv - tivMean) / tivMean);
      const ageZ = (s.age - ageMean) / ageSd;
      const out = new Float32Array(nv);
      for (let q = 0; q < nv; q++) {
        const t = gm[q];
        if (t < 0.01) continue;
        const v =
          t *
          (scale + noiseSd * unit * field[q] - ageEffect * ageZ * ageMap[q] - groupEffect * s.patient * groupMap[q]);
        out[q] = Math.max(0, v);
      }
      return out;
    },
  };
}

/**
 * Write the study: scans/smwc1sub-00NN.nii, design.csv (scan, age, sex, group, patient, tiv) and
 * brainmask.nii: the template smoothed to 6 mm FWHM above 0.2, a solid brain with the cortex
 * and deep grey matter (a raw grey-matter ribbon is full of holes and handles: its Euler
 * characteristic, the resel count R0, goes negative and random field theory breaks down).
 */
export function writeDemoStudy(
  dir: string,
  study: DemoStudy,
  onScan?: (i: number) => void,
): { design: string; mask: string } {
  mkdirSync(join(dir, 'scans'), { recursive: true });
  const lines = ['scan,age,sex,group,patient,tiv'];
  study.subjects.forEach((s, i) => {
    const name = `scans/smwc1sub-${String(i + 1).padStart(4, '0')}.nii`;
    writeFileSync(
      join(dir, name),
      encodeNifti(
        { dims: study.dims, affine: study.affine, data: study.scan(i) },
        { datatype: DT.FLOAT32, descrip: 'vbm demo grey matter (ICBM152 2009a based)' },
      ),
    );
    lines.push(`${name},${s.age},${s.sex},${s.group},${s.patient},${s.tiv}`);
    onScan?.(i);
  });
  const design = join(dir, 'design.csv');
  writeFileSync(design, lines.join('\n') + '\n');
  const smooth = gaussianSmooth(study.template, study.dims, [2, 2, 2]);
  const maskData = new Uint8Array(study.template.length);
  for (let q = 0; q < maskData.length; q++) maskData[q] = smooth[q] > 0.2 ? 1 : 0;
  const mask = join(dir, 'brainmask.nii');
  writeFileSync(
    mask,
    encodeNifti(
      { dims: study.dims, affine: study.affine, data: maskData },
      { datatype: DT.UINT8, descrip: 'vbm demo mask: ICBM152 GM, 6 mm FWHM, > 0.2' },
    ),
  );
  return { design, mask };
}
