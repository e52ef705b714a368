/**
 * A synthetic study on disk as most tests want it: the phantom cohort's scans as .nii, its
 * design.csv, and the template's brain mask as mask.nii, all in `dir`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Cohort, type CohortOptions, makeCohort, templateMask, writeCohort } from '../../src/synth/phantom.js';
import { runAnalysis } from '../../src/pipeline/run.js';

export function writeStudy(dir: string, o: CohortOptions): { cohort: Cohort; design: string; mask: string } {
  const cohort = makeCohort(o);
  const design = writeCohort(dir, cohort, { format: 'nii' });
  const mask = join(dir, 'mask.nii');
  writeFileSync(mask, templateMask(cohort));
  return { cohort, design, mask };
}

/** Fit a written study's usual model into `out`: age and sex as covariates, contrast 'age +', its mask. */
export async function fitAgeModel(dir: string, design: string, out: string): Promise<void> {
  await runAnalysis({
    design,
    out,
    covariates: ['age', 'sex'],
    contrasts: [{ name: 'age +', type: 'T', columns: ['age'], weights: [1] }],
    masking: { explicitMask: join(dir, 'mask.nii') },
    workers: 1,
  });
}

/**
 * The small planted study many tests use: 20x24x20 voxels of 8 mm, 12 mm smooth noise, one age
 * effect of width `sigmaMm` (default 10) at (30, -20, 10) mm, of `perSd` standard deviations per year.
 */
export function smallStudy(o: { n: number; seed: number; perSd: number; sigmaMm?: number }): CohortOptions {
  return {
    n: o.n,
    dims: [20, 24, 20],
    voxelMm: 8,
    noiseFwhmMm: 12,
    seed: o.seed,
    effects: [{ covariate: 'age', centreMm: [30, -20, 10], sigmaMm: o.sigmaMm ?? 10, perSd: o.perSd }],
  };
}
