/**
 * The demo study (npm run demo) finds what was planted where it was planted, and its default
 * pictures show it. The study is built on the ICBM152 grey-matter template vbm ships; the
 * test labels the peaks itself with Debian's AAL (mricron-data: nearest atlas voxel through the
 * atlas' own diagonal affine, names from aal.nii.txt), independent of vbm's atlas code, and reads
 * the PNG back with pngjs, locating each cluster voxel's pixel by its own mm arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { tempDir } from './helpers.js';
import { DEMO_EFFECTS, makeDemoStudy, writeDemoStudy } from '../src/synth/demoStudy.js';
import { shippedTemplate } from '../src/plot/background.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { analysisResults } from '../src/pipeline/results.js';
import { runPlot } from '../src/pipeline/plot.js';
import { readVolume } from '../src/node/nifti/read.js';
import { runReport } from '../src/pipeline/report.js';
import { runPermute } from '../src/pipeline/permute.js';

const AAL_IMAGE = '/usr/share/mricron/templates/aal.nii.gz';
const AAL_NAMES = '/usr/share/mricron/templates/aal.nii.txt';
const noAal =
  existsSync(AAL_IMAGE) && existsSync(AAL_NAMES)
    ? false
    : 'AAL from mricron-data is not installed (apt-get install mricron-data)';

function aalLabeller(): (mm: number[]) => string {
  const a = readVolume(AAL_IMAGE);
  const names = new Map(
    readFileSync(AAL_NAMES, 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 2)
      .map((f) => [Number(f[0]), f[1]] as [number, string]),
  );
  return (mm) => {
    const idx = [0, 1, 2].map((r) => Math.round((mm[r] - a.affine[r][3]) / a.affine[r][r]));
    const code = idx.every((v, r) => v >= 0 && v < a.dims[r])
      ? a.data[idx[0] + a.dims[0] * (idx[1] + a.dims[1] * idx[2])]
      : 0;
    return code === 0 ? 'OUTSIDE' : (names.get(code) ?? `code ${code}`);
  };
}

test(
  'demo study: the planted effects are found at their AAL regions, and every cluster of k >= 20 is in the default slices picture',
  { skip: noAal },
  async () => {
    const { dir, cleanup } = tempDir('vbm-demo-');
    try {
      const study = makeDemoStudy(shippedTemplate(), { n: 40, seed: 2026 });
      const { design, mask } = writeDemoStudy(join(dir, 'cohort'), study);
      const out = join(dir, 'results');
      await runAnalysis({
        design,
        out,
        covariates: ['age', 'patient', 'tiv'],
        contrasts: [
          { name: 'age -', type: 'T', columns: ['age'], weights: [-1] },
          { name: 'patients < controls', type: 'T', columns: ['patient'], weights: [-1] },
        ],
        masking: { explicitMask: mask },
        workers: 0,
      });
      const label = aalLabeller();
      // FWE 0.05 (random field theory): each planted centre has a surviving peak within 8 mm, labelled with its region
      for (const [k, name] of [
        [1, 'age'],
        [2, 'patient'],
      ] as const) {
        const res = analysisResults(out, { contrast: k, threshold: 0.05, correction: 'fwe', extent: 0 });
        const peaks = res.table.rows.map((r) => ({ mm: r.mm, label: label(r.mm) }));
        for (const e of DEMO_EFFECTS.filter((x) => x.name === name)) {
          const near = peaks.filter(
            (p) => Math.hypot(p.mm[0] - e.centreMm[0], p.mm[1] - e.centreMm[1], p.mm[2] - e.centreMm[2]) <= 8,
          );
          assert.ok(
            near.length > 0,
            `contrast ${k}: no FWE peak within 8 mm of the ${e.region} effect at ${String(e.centreMm)}; peaks ${JSON.stringify(peaks)}`,
          );
          assert.ok(
            near.some((p) => p.label === e.region),
            `contrast ${k}: peaks near ${String(e.centreMm)} are labelled ${String(near.map((p) => p.label))}, not ${e.region}`,
          );
        }
        // the strongest peak is a planted one
        assert.ok(
          DEMO_EFFECTS.some((e) => e.name === name && e.region === peaks[0].label),
          `contrast ${k}: the first peak is at ${peaks[0].label}`,
        );
      }
      // the screenshot check: vbm plot's default slices (p < 0.001 unc., both signs, 6 cuts)
      for (const k of [1, 2]) {
        const pic = await runPlot(out, { contrast: k, out: join(dir, `slices_${k}.png`) });
        const img = PNG.sync.read(readFileSync(pic.file));
        const res = analysisResults(out, { contrast: k, threshold: 0.001, correction: 'none', extent: 0 });
        const { dims, affine } = res.stat;
        const grids = pic.figure.grids ?? [];
        const panels = pic.figure.panels ?? [];
        const sizes = new Map<number, number>();
        for (const c of res.table.clusterIndex) if (c) sizes.set(c, (sizes.get(c) ?? 0) + 1);
        const big = [...sizes].filter(([, n]) => n >= 20).map(([c]) => c);
        assert.ok(big.length >= (k === 1 ? 2 : 1), `contrast ${k}: ${big.length} clusters of k >= 20`);
        for (const c of big) {
          let seen = false;
          for (let i = 0; i < res.table.clusterIndex.length && !seen; i++) {
            if (res.table.clusterIndex[i] !== c) continue;
            // the voxel's mm position by hand (diagonal affine)
            const v = [i % dims[0], Math.floor(i / dims[0]) % dims[1], Math.floor(i / (dims[0] * dims[1]))];
            const mm = [0, 1, 2].map((r) => affine[r][r] * v[r] + affine[r][3]);
            grids.forEach((g, p) => {
              if (Math.abs(g.coord - mm[2]) > 1e-3) return;
              const px = Math.floor((mm[0] - g.u[0]) * g.pxPerMm);
              const py = Math.floor((g.v[1] - mm[1]) * g.pxPerMm);
              const o = ((panels[p].y + py) * img.width + panels[p].x + px) * 4;
              if (img.data[o] !== img.data[o + 1] || img.data[o + 1] !== img.data[o + 2]) seen = true;
            });
          }
          assert.ok(
            seen,
            `contrast ${k}: cluster ${c} (${sizes.get(c)} voxels, peak ${JSON.stringify(res.table.rows.find((r) => r.cluster === c)?.mm)}) is in no cut of ${String(grids.map((g) => g.coord))}`,
          );
        }
      }
      // --coords wins over the cut finder
      const mine = await runPlot(out, { contrast: 1, coords: [0, 30], out: join(dir, 'mine.png') });
      assert.deepEqual(
        mine.figure.grids?.map((g) => g.coord),
        [0, 30],
      );
    } finally {
      cleanup();
    }
  },
);

test(
  'report: permutation maps (TFCE, voxel and cluster FWE) and their table beside the random-field results',
  { skip: noAal },
  async () => {
    const { dir, cleanup } = tempDir('vbm-demo-perm-');
    try {
      const study = makeDemoStudy(shippedTemplate(), { n: 40, seed: 2026 });
      const { design, mask } = writeDemoStudy(join(dir, 'cohort'), study);
      const out = join(dir, 'results');
      await runAnalysis({
        design,
        out,
        covariates: ['age', 'patient', 'tiv'],
        contrasts: [{ name: 'age -', type: 'T', columns: ['age'], weights: [-1] }],
        masking: { explicitMask: mask },
        workers: 0,
      });
      const before = readFileSync((await runReport(out, { viewer: false })).file, 'utf8');
      assert.ok(!before.includes('id="permutation-1"'), 'a permutation section without permutation results');
      await runPermute(out, {
        contrast: 1,
        permutations: 40,
        tfce: true,
        clusterThreshold: 0.001,
        seed: 1,
        workers: 0,
      });
      const page = readFileSync((await runReport(out, { viewer: false })).file, 'utf8');
      const at = page.indexOf('id="permutation-1"');
      assert.ok(at > page.indexOf('id="results-1"'), 'the permutation section follows the random-field table');
      const section = page.slice(at, page.indexOf('</section>', at));
      for (const f of [
        'perm_0001_tfce_mlog10p_fwe.nii',
        'perm_0001_vox_mlog10p_fwe.nii',
        'perm_0001_clustere_mlog10p_fwe.nii',
      ])
        assert.ok(section.includes(f), `${f} is not shown`);
      assert.equal((section.match(/<img /g) ?? []).length, 3);
      // its table lists a hippocampal cluster (peak within 8 mm of a planted centre)
      const rows = [
        ...section.matchAll(
          /<tr><td>\d+<\/td>(?:<td>[^<]*<\/td>){7}<td>(-?\d+)<\/td><td>(-?\d+)<\/td><td>(-?\d+)<\/td>/g,
        ),
      ].map((m) => [1, 2, 3].map((g) => Number(m[g])));
      assert.ok(
        rows.some((mm) =>
          DEMO_EFFECTS.slice(0, 2).some(
            (e) => Math.hypot(mm[0] - e.centreMm[0], mm[1] - e.centreMm[1], mm[2] - e.centreMm[2]) <= 8,
          ),
        ),
        `no hippocampal cluster in ${JSON.stringify(rows)}`,
      );
    } finally {
      cleanup();
    }
  },
);
