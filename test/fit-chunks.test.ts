/**
 * The fit adds fixed chunks of scans in a fixed order, so its maps are the same bytes whatever
 * the number of worker threads (before, ResMS and RPV differed in the last bits between 1 and 2).
 */
import { smallStudy, writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tempDir } from './helpers.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { FIT_CHUNK, streamGroupSums } from '../src/estimation/fitChunks.js';

test('beta, ResMS, RPV, con and spmT maps are byte-identical for 0, 1, 2 and 3 worker threads', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 2 * FIT_CHUNK + 13; // three chunks, the last one short
    const { design } = writeStudy(dir, smallStudy({ n, seed: 3, perSd: 0.1, sigmaMm: 9 }));
    const outs: string[] = [];
    for (const workers of [0, 1, 2, 3]) {
      const out = join(dir, `w${workers}`);
      await runAnalysis({
        design,
        out,
        covariates: ['age', 'sex'],
        contrasts: [
          { name: 'age', type: 'T', columns: ['age'], weights: [1] },
          {
            name: 'F',
            type: 'F',
            columns: ['age', 'sex'],
            weights: [
              [1, 0],
              [0, 1],
            ],
          },
        ],
        masking: { explicitMask: join(dir, 'mask.nii') },
        workers,
      });
      outs.push(out);
    }
    const maps = readdirSync(outs[0])
      .filter((f) => f.endsWith('.nii'))
      .sort();
    for (const want of ['ResMS.nii', 'RPV.nii', 'beta_0001.nii', 'spmT_0001.nii', 'spmF_0002.nii'])
      assert.ok(maps.includes(want), `${want} not written: ${maps.join(' ')}`);
    for (const f of maps) {
      const ref = readFileSync(join(outs[0], f));
      for (const o of outs.slice(1))
        assert.ok(readFileSync(join(o, f)).equals(ref), `${f} differs between 0 workers and ${o}`);
    }
    const smooth = (o: string): unknown =>
      JSON.parse(readFileSync(join(o, 'smoothness.json'), 'utf8')) as { FWHM_mm: unknown; R: unknown };
    for (const o of outs.slice(1)) assert.deepEqual(smooth(o), smooth(outs[0]));
  } finally {
    cleanup();
  }
});

test('with variance groups (two-sample, ReML) the maps are byte-identical for 0, 1 and 2 worker threads and through a task backend, which is handed one job per group', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = FIT_CHUNK + 21; // the groups split into chunks of their own, one of them long
    const { design } = writeStudy(dir, smallStudy({ n, seed: 7, perSd: 0.1, sigmaMm: 9 }));
    const outs: string[] = [];
    // each scan's group, from the spreadsheet as written (the design may order the scans by group)
    const sexOf = new Map(
      readFileSync(design, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(','))
        .map((f) => [basename(f[0]), f[2]]),
    );
    const handed: (string | undefined)[][] = [];
    for (const workers of [0, 1, 2, 3]) {
      const out = join(dir, `g${workers}`);
      const res = await runAnalysis({
        design,
        out,
        model: 'two_sample',
        factor: 'sex',
        factors: ['sex'],
        covariates: ['age'],
        contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
        masking: { explicitMask: join(dir, 'mask.nii') },
        workers: Math.min(workers, 2),
        // run 3: a stand-in task backend (the sums of each job it is handed, on one thread)
        fitSums:
          workers === 3
            ? (jobs, onScan) => {
                handed.push(...jobs.map((j) => j.scans.map((s) => sexOf.get(basename(s.ref.path)))));
                return streamGroupSums(jobs, 0, onScan);
              }
            : undefined,
      });
      assert.ok(res.record.nonSphericity, 'the design has variance groups');
      outs.push(out);
    }
    // the backend got one job per variance group (sex), each holding that group's scans only
    assert.equal(handed.length, 2);
    assert.deepEqual(
      handed.map((g) => new Set(g).size),
      [1, 1],
    );
    assert.equal(handed[0].length + handed[1].length, n);
    const maps = readdirSync(outs[0]).filter((f) => f.endsWith('.nii'));
    assert.ok(maps.includes('ResMS.nii') && maps.includes('RPV.nii') && maps.includes('spmT_0001.nii'));
    for (const f of maps) {
      const ref = readFileSync(join(outs[0], f));
      for (const o of outs.slice(1))
        assert.ok(readFileSync(join(o, f)).equals(ref), `${f} differs between 0 workers and ${o}`);
    }
  } finally {
    cleanup();
  }
});
