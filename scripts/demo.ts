/**
 * `npm run demo`: builds a small synthetic cohort in code (a brain-shaped phantom, smooth
 * subject noise, an age effect planted in the right hemisphere and an APOE4 effect in the
 * left), writes it as NIfTI + design.csv, and runs the whole vbm workflow on it: estimation,
 * a picture of the age effect and the HTML report.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { describeAnalysis } from '../src/pipeline/show.js';
import { openAnalysis } from '../src/pipeline/analysis.js';
import { progressReporter } from '../src/cli/progress.js';
import type { ContrastSpec } from '../src/model/contrasts.js';
import { runPlot } from '../src/pipeline/plot.js';
import { runReport } from '../src/pipeline/report.js';
import { openAtlas } from '../src/pipeline/label.js';

const root = resolve(process.argv[2] ?? 'demo-output');
const cohortDir = join(root, 'cohort');
const resultsDir = join(root, 'results');
rmSync(root, { recursive: true, force: true });
mkdirSync(cohortDir, { recursive: true });

process.stderr.write(`generating a synthetic cohort of 40 scans in ${cohortDir}\n`);
const cohort = makeCohort({
  n: 40,
  dims: [61, 73, 61],
  voxelMm: 3,
  noiseFwhmMm: 10,
  noiseSd: 0.05,
  seed: 2026,
  effects: [
    { covariate: 'age', centreMm: [36, -20, 8], sigmaMm: 7, perSd: -0.06 },
    { covariate: 'apoe4', centreMm: [-28, -24, -12], sigmaMm: 6, perSd: -0.05 },
  ],
});
const design = writeCohort(cohortDir, cohort, { format: 'mixed' });
writeFileSync(join(cohortDir, 'brainmask.nii'), templateMask(cohort));
const contrasts: ContrastSpec[] = [
  { name: 'Effect of age (+)', type: 'T', columns: ['age'], weights: [1] },
  { name: 'Effect of age (-)', type: 'T', columns: ['age'], weights: [-1] },
  { name: 'Effect of apoe4 (-)', type: 'T', columns: ['apoe4'], weights: [-1] },
  { name: 'Effect of age or apoe4', type: 'F', columns: ['age', 'apoe4'] },
];
writeFileSync(join(cohortDir, 'contrasts.json'), JSON.stringify(contrasts, null, 1) + '\n');

const result = await runAnalysis({
  design,
  out: resultsDir,
  contrasts,
  masking: { explicitMask: join(cohortDir, 'brainmask.nii') },
  command: 'npm run demo',
  onProgress: progressReporter(true),
  log: (m) => process.stderr.write(`${m}\n`),
});
process.stdout.write(describeAnalysis(openAnalysis(result.dir)) + '\n\n');
// pictures and the HTML report (AAL labels when Debian's mricron-data is installed)
const slices = await runPlot(result.dir, { contrast: 2, threshold: 3.1, display: 'z', cuts: 8 });
let atlas;
try {
  atlas = openAtlas('aal');
} catch {
  atlas = undefined;
}
const report = await runReport(result.dir, { atlas, command: 'npm run demo' });
process.stdout.write(
  [
    `The synthetic study is in ${cohortDir} (design.csv, scans/, brainmask.nii, contrasts.json).`,
    `The results are in ${resultsDir}. The same run from the command line:`,
    `  npx vbm run ${design} --mask ${join(cohortDir, 'brainmask.nii')} --contrasts ${join(cohortDir, 'contrasts.json')} --out ${resultsDir} --overwrite`,
    `  npx vbm show ${resultsDir}`,
    `Pictures: ${slices.file} (vbm plot ${resultsDir} --contrast 2 --threshold 3.1 --cuts 8)`,
    `Report (open it in a browser): ${report.file} (vbm report ${resultsDir}${atlas ? ' --atlas aal' : ''})`,
    '',
  ].join('\n'),
);
