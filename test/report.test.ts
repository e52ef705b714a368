/// <reference lib="dom" />
/**
 * `vbm report` and `vbm plot` on a real (small) analysis: users' text is escaped, an empty
 * result is said and does not fail, a missing contrast is a clear error; then the report is
 * opened in headless Chromium (Debian's, driven by playwright-core): no console errors, every
 * picture loads, the NiiVue viewer draws the map and redraws when the threshold moves, a click
 * reads coordinates, value and atlas label, and the results table's first row is the planted
 * effect with the atlas label the test looks up itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { tempDir } from './helpers.js';
import { makeCohort, mniLikeAffine, templateMask, writeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runReport } from '../src/pipeline/report.js';
import { runPlot } from '../src/pipeline/plot.js';
import { openAtlas } from '../src/pipeline/label.js';
import { readVolume } from '../src/node/nifti/read.js';
import { VbmError } from '../src/errors.js';
import { VBM_VERSION } from '../src/node/version.js';

const CHROMIUM = '/usr/bin/chromium';
const AAL_IMAGE = '/usr/share/mricron/templates/aal.nii.gz';
const AAL_NAMES = '/usr/share/mricron/templates/aal.nii.txt';
const hasAal = existsSync(AAL_IMAGE) && existsSync(AAL_NAMES);
const PLANTED: [number, number, number] = [-38, -22, 14];
const COLUMN = "age <i>&'yrs'</i>";
const CONTRAST = 'older <b>"bigger"</b>';

/** The test's own AAL lookup: nearest atlas voxel through the (diagonal) affine, names from mricron's .txt. */
function aalLabel(mm: number[]): string {
  const a = readVolume(AAL_IMAGE);
  const idx = [0, 1, 2].map((r) => Math.round((mm[r] - a.affine[r][3]) / a.affine[r][r]));
  const code = idx.every((v, r) => v >= 0 && v < a.dims[r])
    ? a.data[idx[0] + a.dims[0] * (idx[1] + a.dims[1] * idx[2])]
    : 0;
  if (code === 0) return 'OUTSIDE';
  const line = readFileSync(AAL_NAMES, 'utf8')
    .split('\n')
    .find((l) => l.split(/\s+/)[0] === String(code));
  return line ? line.split(/\s+/)[1] : `code ${code}`;
}

async function buildAnalysis(dir: string): Promise<string> {
  const cohort = makeCohort({
    n: 24,
    dims: [46, 55, 46],
    voxelMm: 4,
    noiseFwhmMm: 10,
    seed: 31,
    effects: [{ covariate: 'age', centreMm: PLANTED, sigmaMm: 7, perSd: 0.09 }],
  });
  const design = writeCohort(join(dir, 'cohort'), cohort, { format: 'nii' });
  // a column name with markup in it, as a spreadsheet might hold
  const text = readFileSync(design, 'utf8').replace(/^scan,age,/, `scan,${COLUMN},`);
  writeFileSync(design, text);
  writeFileSync(join(dir, 'cohort', 'mask.nii'), templateMask(cohort));
  const out = join(dir, 'results');
  await runAnalysis({
    design,
    out,
    masking: { explicitMask: join(dir, 'cohort', 'mask.nii') },
    contrasts: [
      { name: CONTRAST, type: 'T', columns: [COLUMN], weights: [1] },
      { name: 'sex', type: 'T', columns: ['sex'], weights: [1] },
    ],
    workers: 0,
  });
  return out;
}

test('vbm report and vbm plot on an analysis, then the report in headless Chromium', async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const out = await buildAnalysis(dir);
    const atlas = hasAal ? openAtlas('aal') : undefined;
    const rep = await runReport(out, {
      threshold: 0.05,
      correction: 'fwe',
      extent: 0,
      atlas,
      command: 'vbm report results --correction fwe --threshold 0.05',
    });
    const page = readFileSync(rep.file, 'utf8');
    // users' text is escaped wherever it appears
    assert.ok(!page.includes(CONTRAST) && !page.includes(COLUMN), 'raw markup from names reached the page');
    assert.ok(page.includes('older &lt;b&gt;&quot;bigger&quot;&lt;/b&gt;'), 'escaped contrast name');
    assert.ok(page.includes('age &lt;i&gt;&amp;&#39;yrs&#39;&lt;/i&gt;'), 'escaped column name');
    assert.ok(
      page.includes(`vbm ${VBM_VERSION}`) && page.includes('vbm report results --correction fwe --threshold 0.05'),
    );
    // the planted effect survives FWE; the null contrast (sex) does not, and the report says so
    assert.ok(rep.contrasts[0].shownVoxels > 0, 'the planted effect is shown');
    assert.equal(rep.contrasts[1].shownVoxels, 0, 'no voxel of the null contrast survives FWE 0.05 (seeded data)');
    assert.ok(page.includes('id="empty-2"') && !page.includes('id="empty-1"'));
    // vbm plot: a missing contrast names the ones there are
    await assert.rejects(
      runPlot(out, { contrast: 7 }),
      (e: unknown) => e instanceof VbmError && /no contrast 7/.test(e.message) && /1 'older/.test(e.hint ?? ''),
    );
    const glass = await runPlot(out, { kind: 'glass', contrast: 1, threshold: 0.05, correction: 'fwe' });
    const png = PNG.sync.read(readFileSync(glass.file));
    assert.equal(png.width, glass.figure.width);

    if (!existsSync(CHROMIUM)) {
      t.diagnostic(`skipped the browser part: ${CHROMIUM} is absent (Debian: apt-get install chromium)`);
      return;
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // WebGL2 without a GPU: ANGLE on SwiftShader, which Chromium wants allowed explicitly
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      const requests: string[] = [];
      ctx.on('request', (r) => {
        if (!/^(file|data|blob):/.test(r.url())) requests.push(r.url());
      });
      const pg = await ctx.newPage();
      const errors: string[] = [];
      pg.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      pg.on('pageerror', (e) => errors.push(e.message));
      await pg.goto(`file://${rep.file}`);
      await pg.waitForFunction(
        () =>
          (window as unknown as { vbmViewer?: { ready: boolean } }).vbmViewer?.ready === true ||
          !!document.getElementById('nv-status')?.textContent,
        null,
        { timeout: 60000 },
      );
      assert.equal(await pg.$eval('#nv-status', (e) => e.textContent), '', 'viewer status');
      // every picture has loaded
      const imgs = await pg.$$eval('img', (list) =>
        list.map((i) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.getAttribute('alt') })),
      );
      assert.ok(imgs.length >= 5, `${imgs.length} images`);
      for (const i of imgs) assert.ok(i.ok, `image '${i.alt}' did not load`);
      // the viewer draws the map: not blank, warm-coloured pixels present
      const canvas = await pg.$('#nv-canvas');
      assert.ok(canvas);
      await canvas.scrollIntoViewIfNeeded();
      const warm = (buf: Buffer): { warm: number; distinct: number } => {
        const p = PNG.sync.read(buf);
        let w = 0;
        const seen = new Set<number>();
        // NiiVue's colour bar runs along the bottom: count the slices above it only
        const end = Math.floor(p.height * 0.8) * p.width * 4;
        for (let o = 0; o < end; o += 4) {
          const [r, g, b] = [p.data[o], p.data[o + 1], p.data[o + 2]];
          seen.add((r << 16) | (g << 8) | b);
          if (r > 200 && g > 60 && b < 60) w++;
        }
        return { warm: w, distinct: seen.size };
      };
      const before = warm(await canvas.screenshot());
      assert.ok(before.distinct > 50, `viewer screenshot looks blank (${before.distinct} colours)`);
      assert.ok(before.warm > 20, `no map drawn (${before.warm} warm pixels)`);
      // move the threshold up to near the maximum: fewer voxels are drawn
      await pg.$eval('#nv-threshold', (el) => {
        const s = el as HTMLInputElement;
        s.value = String(Number(s.max) * 0.9);
        s.dispatchEvent(new Event('input'));
      });
      await pg.waitForTimeout(300);
      const after = warm(await canvas.screenshot());
      assert.ok(
        after.warm < before.warm / 2,
        `raising the threshold changed nothing (${before.warm} -> ${after.warm} warm pixels)`,
      );
      // a click reads coordinates, the value and the label
      const box = await canvas.boundingBox();
      assert.ok(box);
      await pg.mouse.click(box.x + box.width * 0.17, box.y + box.height * 0.45);
      await pg.waitForFunction(
        () => /x=-?\d+ y=-?\d+ z=-?\d+ mm/.test(document.getElementById('nv-location')?.textContent ?? ''),
        null,
        { timeout: 10000 },
      );
      const where = await pg.$eval('#nv-location', (e) => e.textContent ?? '');
      assert.match(where, /T=-?\d+\.\d\d/);
      const loc = await pg.evaluate(
        () => (window as unknown as { vbmViewer: { location: { mm: number[]; label: string } } }).vbmViewer.location,
      );
      if (hasAal) {
        // the viewer labels the statistic voxel under the click: snap to its centre on the 4 mm LAS grid by hand
        const A = mniLikeAffine([46, 55, 46], 4, 'LAS');
        const centre = [0, 1, 2].map((r) => A[r][r] * Math.round((loc.mm[r] - A[r][3]) / A[r][r]) + A[r][3]);
        assert.equal(loc.label, aalLabel(centre), `label at ${String(loc.mm)}`);
      }
      // the results table: the first row is the planted effect, labelled as the test's own lookup says
      const first = await pg.$$eval('#results-1 tbody tr:first-child td', (tds) =>
        tds.map((td) => td.textContent ?? ''),
      );
      const mm = first.slice(10, 13).map(Number);
      assert.ok(
        Math.hypot(mm[0] - PLANTED[0], mm[1] - PLANTED[1], mm[2] - PLANTED[2]) <= 8,
        `first peak at ${String(mm)}, planted at ${String(PLANTED)}`,
      );
      assert.ok(Number(first[7]) > 5, `peak T ${first[7]}`);
      if (hasAal) assert.equal(first[13], aalLabel(mm));
      assert.equal(await pg.$$eval('#results-2', (l) => l.length), 0, 'no table for the empty contrast');
      t.diagnostic(
        `viewer: ${before.warm} warm pixels at the report's threshold, ${after.warm} at 90% of the maximum; click: ${where}; first row: ${first.join(' | ')}`,
      );
      assert.deepEqual(errors, [], 'console errors');
      assert.deepEqual(requests, [], 'the report fetched something from the network');
    } finally {
      await browser.close();
    }
  } finally {
    cleanup();
  }
});
