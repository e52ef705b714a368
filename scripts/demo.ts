/**
 * `npm run demo`: builds a small VBM study on real anatomy (the ICBM152 grey-matter template vbm
 * ships; src/synth/demoStudy.ts): 40 subjects, age, sex (F/M), group (control/patient and a 0/1
 * patient column), TIV; grey matter falling with age in both hippocampi and lower in patients in
 * the left middle frontal gyrus. Then the whole workflow: the sample check (CAT12's homogeneity
 * check, scaled by TIV), estimation (SPM's two-sample t-test with unequal variances, age and TIV
 * as covariates), results with AAL labels (when Debian's mricron-data is installed), a TFCE
 * permutation test of the age effect, pictures and the HTML report; it prints the labelled peaks.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeDemoStudy, writeDemoStudy } from '../src/synth/demoStudy.js';
import { shippedTemplate } from '../src/plot/background.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runCheck } from '../src/pipeline/check.js';
import { progressReporter } from '../src/cli/progress.js';
import type { ContrastSpec } from '../src/model/contrasts.js';
import { runResults } from '../src/pipeline/results.js';
import { runPermute } from '../src/pipeline/permute.js';
import { runPlot } from '../src/pipeline/plot.js';
import { runReport } from '../src/pipeline/report.js';
import { openAtlas } from '../src/pipeline/label.js';
import type { Atlas } from '../src/atlas/atlas.js';

const root = resolve(process.argv[2] ?? 'demo-output');
const permutations = Number(process.env.VBM_DEMO_PERMUTATIONS ?? 300);
const cohortDir = join(root, 'cohort');
const resultsDir = join(root, 'results');
const t0 = Date.now();
rmSync(root, { recursive: true, force: true });
mkdirSync(cohortDir, { recursive: true });

process.stderr.write(`building a study of 40 subjects on the ICBM152 grey-matter template in ${cohortDir}\n`);
const marks: [string, number][] = [];
const mark = (what: string): void => {
  marks.push([what, Date.now()]);
};
const study = makeDemoStudy(shippedTemplate(), { n: 40, seed: 2026 });
const { design, mask } = writeDemoStudy(cohortDir, study);
mark('study');
const contrasts: ContrastSpec[] = [
  { name: 'Grey matter falls with age', type: 'T', columns: ['age'], weights: [-1] },
  { name: 'Patients < controls', type: 'T', columns: ['group[control]', 'group[patient]'], weights: [1, -1] },
];
writeFileSync(join(cohortDir, 'contrasts.json'), JSON.stringify(contrasts, null, 1) + '\n');
const progress = progressReporter(true);
const check = await runCheck({ design, out: resultsDir, mask, globals: 'tiv', onProgress: progress });
mark('check');
// SPM's two-sample t-test (one variance per group, estimated by ReML), age and TIV as covariates
const covariates = ['age', 'tiv'];
const result = await runAnalysis({
  design,
  out: resultsDir,
  model: 'two_sample',
  factor: 'group',
  levels: ['control', 'patient'],
  covariates,
  contrasts,
  masking: { explicitMask: mask },
  command: 'npm run demo',
  onProgress: progress,
  log: (m) => process.stderr.write(`${m}\n`),
});
mark('estimation');
let atlas: Atlas | undefined;
try {
  atlas = openAtlas('aal');
} catch {
  process.stderr.write('AAL not found (Debian: apt-get install mricron-data): peaks are listed without labels\n');
}
const tables = contrasts.map((_, i) =>
  runResults(result.dir, { contrast: i + 1, threshold: 0.05, correction: 'fwe', extent: 0, atlas }),
);
mark('results');
process.stderr.write(`permutation test of contrast 1 with TFCE (${permutations} permutations)\n`);
const perm = await runPermute(result.dir, {
  contrast: 1,
  permutations,
  tfce: true,
  seed: 42,
  onProgress: (d, t) => progress('permutations', d, t),
});
mark('permutations');
const slices = await runPlot(result.dir, { contrast: 1, display: 'z', cuts: 6 });
const glass = await runPlot(result.dir, { contrast: 2, kind: 'glass' });
mark('pictures');
const report = await runReport(result.dir, { atlas, command: 'npm run demo' });
mark('report');
const seconds = (Date.now() - t0) / 1000;
process.stdout.write(
  [
    check.text,
    '',
    ...tables.map((t) => t.text),
    '',
    perm.text,
    '',
    `Planted: grey matter falls with age in both hippocampi (AAL Hippocampus_L, Hippocampus_R); patients have less in the left middle frontal gyrus (Frontal_Mid_L).`,
    `The study is in ${cohortDir} (design.csv with text columns sex and group, scans/, brainmask.nii, contrasts.json).`,
    `The results are in ${resultsDir}. The same run from the command line:`,
    `  npx vbm check ${design} --mask ${mask} --globals tiv --out ${resultsDir}`,
    `  npx vbm run ${design} --model two-sample --factor group --levels control,patient --covariates ${covariates.join(',')} --mask ${mask} --contrasts ${join(cohortDir, 'contrasts.json')} --out ${resultsDir} --overwrite`,
    `  npx vbm results ${resultsDir} --contrast 1 --correction fwe --threshold 0.05${atlas ? ' --atlas aal' : ''}`,
    `  npx vbm permute ${resultsDir} --contrast 1 --permutations ${permutations} --tfce`,
    `Pictures: ${slices.file} (vbm plot ${resultsDir} --contrast 1), ${glass.file} (--contrast 2 --kind glass)`,
    `Report (open it in a browser): ${report.file} (vbm report ${resultsDir}${atlas ? ' --atlas aal' : ''})`,
    `Done in ${seconds.toFixed(1)} s (${marks.map(([w, t], i) => `${w} ${((t - (i ? marks[i - 1][1] : t0)) / 1000).toFixed(1)}`).join(', ')}).`,
    '',
  ].join('\n'),
);
