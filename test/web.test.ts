/**
 * The pure core away from Node's shells: `vbm/core` imported by package name fits the demo study
 * from NIfTI bytes held in memory, and the browser build (npm run build:web) does the same inside
 * a Web Worker in headless Chromium. Both are compared with `vbm run` (the CLI, worker threads,
 * files on disk) on the same study: every image it writes (betas, ResMS, mask, RPV, con, spmT)
 * must be the same bytes. Tolerance: none (byte equality), because the core folds the scans in
 * the CLI's fixed chunks of 32, adds the chunks in the same order and solves with the same code.
 *
 * The design is the demo's multiple regression (age, patient 0/1, TIV, constant), with the brain
 * mask as explicit mask; 34 scans make two chunks (32 + 2), so the chunked addition is exercised.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from './helpers.js';
import { makeDemoStudy, writeDemoStudy } from '../src/synth/demoStudy.js';
import { shippedTemplate } from '../src/plot/background.js';
import { VBM_CLI } from './support/cli.js';
// by package name (the "./core" entry of package.json's exports), as a user would import it
import {
  type StreamScan,
  type Table,
  buildContrasts,
  contrastImages,
  contrastMaps,
  decodeNifti,
  decodeVolume,
  designMatrix,
  fitScanStream,
  modelImages,
  parseInlineContrast,
  scanFromNifti,
} from 'vbm/core';

const CHROMIUM = '/usr/bin/chromium';
const N = 34;
const COVARIATES = ['age', 'patient', 'tiv'];
const CONTRAST = 'age-:T:age=-1';

let dir = '';
let cleanup = (): void => undefined;
let cohort = '';
/** The CLI's images, by file name. */
const expected = new Map<string, Buffer>();

before(() => {
  ({ dir, cleanup } = tempDir('vbm-web-'));
  cohort = join(dir, 'cohort');
  const study = makeDemoStudy(shippedTemplate(), { n: N, seed: 2026 });
  const { design, mask } = writeDemoStudy(cohort, study);
  const out = join(dir, 'cli');
  execFileSync(
    process.execPath,
    [
      VBM_CLI,
      'run',
      design,
      '--mask',
      mask,
      '--covariates',
      COVARIATES.join(','),
      '--contrast',
      CONTRAST,
      '--workers',
      '2',
      '--out',
      out,
    ],
    { stdio: 'pipe' },
  );
  for (const name of ['beta_0001.nii', 'beta_0002.nii', 'beta_0003.nii', 'beta_0004.nii', 'ResMS.nii', 'mask.nii'])
    expected.set(name, readFileSync(join(out, name)));
  for (const name of ['RPV.nii', 'con_0001.nii', 'spmT_0001.nii']) expected.set(name, readFileSync(join(out, name)));
});

after(() => cleanup());

/** design.csv as a Table (the demo's sheet has no quoted cells): the test's own split, not vbm's reader. */
function tableOf(text: string): Table {
  const lines = text.trim().split('\n');
  return {
    path: 'design.csv',
    header: lines[0].split(','),
    rows: lines.slice(1).map((l) => l.split(',')),
    rowNumbers: lines.slice(1).map((_, i) => i + 2),
  };
}

function assertSameImages(got: Map<string, Uint8Array>, where: string): void {
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), `${where}: the same images`);
  for (const [name, bytes] of expected) {
    const g = got.get(name)!;
    assert.equal(g.length, bytes.length, `${where}: ${name} has the CLI's size`);
    assert.ok(Buffer.from(g.buffer, g.byteOffset, g.length).equals(bytes), `${where}: ${name} is the CLI's bytes`);
  }
}

test("vbm/core by package name: the fit from in-memory NIfTI bytes writes the CLI's images, byte for byte", async () => {
  const design = designMatrix(tableOf(readFileSync(join(cohort, 'design.csv'), 'utf8')), { covariates: COVARIATES });
  const maskFile = decodeNifti(readFileSync(join(cohort, 'brainmask.nii')), 'brainmask.nii');
  const explicitMask = { dims: maskFile.header.dims, affine: maskFile.header.affine, data: decodeVolume(maskFile) };
  const bytes = design.scans.map((s) => readFileSync(join(cohort, s)));
  function* scans(): Generator<StreamScan> {
    for (let i = 0; i < bytes.length; i++) yield scanFromNifti(bytes[i], design.scans[i]);
  }
  const fit = await fitScanStream(design, scans(), { explicitMask });
  const [contrast] = buildContrasts([parseInlineContrast(CONTRAST)], design);
  const { effect, stat } = contrastImages(fit, contrastMaps(fit, contrast));
  const got = new Map<string, Uint8Array>();
  for (const im of [...modelImages(fit, design.columns), effect, stat]) got.set(im.name, im.bytes);
  assertSameImages(got, 'vbm/core in Node');
});

/** The Web Worker: fetches the sheet, the mask and each scan (served from the test's memory), fits, posts the images back. */
const WORKER = `
import * as vbm from '/vbm-core.js';
const bytesOf = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
const base64 = (b) => {
  let s = '';
  for (let i = 0; i < b.length; i += 32768) s += String.fromCharCode(...b.subarray(i, i + 32768));
  return btoa(s);
};
try {
  const lines = (await (await fetch('/cohort/design.csv')).text()).trim().split('\\n');
  const table = {
    path: 'design.csv',
    header: lines[0].split(','),
    rows: lines.slice(1).map((l) => l.split(',')),
    rowNumbers: lines.slice(1).map((_, i) => i + 2),
  };
  const design = vbm.designMatrix(table, { covariates: ${JSON.stringify(COVARIATES)} });
  const maskFile = vbm.decodeNifti(await bytesOf('/cohort/brainmask.nii'), 'brainmask.nii');
  const explicitMask = { dims: maskFile.header.dims, affine: maskFile.header.affine, data: vbm.decodeVolume(maskFile) };
  let fetched = 0;
  async function* scans() {
    for (const s of design.scans) {
      fetched++;
      yield vbm.scanFromNifti(await bytesOf('/cohort/' + s), s);
    }
  }
  const fit = await vbm.fitScanStream(design, scans(), { explicitMask });
  const [contrast] = vbm.buildContrasts([vbm.parseInlineContrast(${JSON.stringify(CONTRAST)})], design);
  const { effect, stat } = vbm.contrastImages(fit, vbm.contrastMaps(fit, contrast));
  const images = [...vbm.modelImages(fit, design.columns), effect, stat].map((im) => ({ name: im.name, b64: base64(im.bytes) }));
  postMessage({
    images,
    fetched,
    inWorker: typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && typeof document === 'undefined',
  });
} catch (e) {
  postMessage({ error: String(e && e.stack ? e.stack : e) });
}
`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>vbm core</title>
<script type="module">
const w = new Worker('/worker.js', { type: 'module' });
window.vbmResult = new Promise((resolve) => {
  w.onmessage = (e) => resolve(e.data);
  w.onerror = (e) => resolve({ error: 'worker error: ' + e.message });
});
</script>`;

test(
  "browser build: the demo study fitted from in-memory bytes in a Web Worker in headless Chromium writes the CLI's images, byte for byte",
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (Debian: apt-get install chromium)` },
  async () => {
    // the bundle as npm run build:web makes it (same script), into the test's folder
    const bundle = join(dir, 'vbm-core.js');
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-web.mjs'), bundle], { stdio: 'pipe' });
    const files = new Map<string, { body: Buffer | string; type: string }>([
      ['/', { body: PAGE, type: 'text/html' }],
      ['/worker.js', { body: WORKER, type: 'text/javascript' }],
      ['/vbm-core.js', { body: readFileSync(bundle), type: 'text/javascript' }],
      ['/cohort/design.csv', { body: readFileSync(join(cohort, 'design.csv')), type: 'text/csv' }],
      [
        '/cohort/brainmask.nii',
        { body: readFileSync(join(cohort, 'brainmask.nii')), type: 'application/octet-stream' },
      ],
    ]);
    for (let i = 1; i <= N; i++) {
      const name = `scans/smwc1sub-${String(i).padStart(4, '0')}.nii`;
      files.set(`/cohort/${name}`, { body: readFileSync(join(cohort, name)), type: 'application/octet-stream' });
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const ctx = await browser.newContext();
      const unknown: string[] = [];
      // everything is served from the test's memory; any other request is refused (and noted)
      await ctx.route('**/*', async (route) => {
        const url = new URL(route.request().url());
        const f = url.host === 'vbm.test' ? files.get(url.pathname) : undefined;
        if (!f) {
          unknown.push(url.href);
          await route.abort();
        } else await route.fulfill({ status: 200, body: f.body, contentType: f.type });
      });
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto('http://vbm.test/');
      const result = await page.evaluate(
        () =>
          (
            window as unknown as {
              vbmResult: Promise<{
                images?: { name: string; b64: string }[];
                fetched?: number;
                inWorker?: boolean;
                error?: string;
              }>;
            }
          ).vbmResult,
      );
      assert.equal(result.error, undefined, `the worker failed: ${result.error}`);
      assert.deepEqual(errors, [], 'no page errors');
      assert.deepEqual(unknown, [], 'nothing requested beyond the served files');
      assert.equal(result.inWorker, true, 'the fit ran in a Web Worker (no document)');
      assert.equal(result.fetched, N, 'each scan handed to the fit once');
      const got = new Map<string, Uint8Array>();
      for (const im of result.images ?? []) got.set(im.name, Buffer.from(im.b64, 'base64'));
      assertSameImages(got, 'Chromium Web Worker');
    } finally {
      await browser.close();
    }
  },
);
