/**
 * The bundled CLI (scripts/build-cli.mjs -> dist/cli/, what package.json's bin runs): it must do
 * what the unbundled modules do. Compared with the unbundled CLI (dist/src/cli/main.js, the same
 * code loaded module by module): the same output files byte for byte for `vbm run` and
 * `vbm permute` on worker threads (the bundled thread entry and work modules), with the native
 * kernel and without (VBM_NATIVE=0); the local backend's task processes run the bundled CLI; and
 * the table of work modules it bundles is complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, tempDir } from './helpers.js';
import { makeDemoStudy, writeDemoStudy } from '../src/synth/demoStudy.js';
import { shippedTemplate } from '../src/plot/background.js';
import { workModuleUrl } from '../src/node/bundled.js';
import { VBM_CLI } from './support/cli.js';

const UNBUNDLED = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function vbm(cli: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${relative(repoRoot, cli)} ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

/** The output files of a folder (images, tables, text; not the records that hold dates and paths), by name. */
function outputs(dir: string): Map<string, Buffer> {
  const files = readdirSync(dir).filter((f) => /\.(nii|csv|tsv|txt)$/.test(f) && statSync(join(dir, f)).isFile());
  return new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
}

function assertSameOutputs(a: string, b: string, what: string): void {
  const x = outputs(a);
  const y = outputs(b);
  assert.deepEqual([...y.keys()].sort(), [...x.keys()].sort(), `${what}: the same files`);
  assert.ok(x.size >= 3, `${what}: outputs written (${[...x.keys()].join(' ')})`);
  for (const [f, bytes] of x) assert.ok(bytes.equals(y.get(f)!), `${what}: ${f} differs`);
}

test('package.json bin runs the bundled CLI, which names the same version as package.json', () => {
  assert.equal(relative(repoRoot, VBM_CLI), join('dist', 'cli', 'vbm.js'));
  assert.match(readFileSync(VBM_CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  assert.equal(vbm(VBM_CLI, ['--version']).trim(), pkg.version);
});

test('every module a worker thread loads (each exporting `work`) is bundled, and the pool starts the bundled file', async () => {
  const { WORK_MODULES } = (await import(pathToFileURL(join(repoRoot, 'scripts', 'cli-entries.mjs')).href)) as {
    WORK_MODULES: Record<string, string>;
  };
  const src = join(repoRoot, 'src');
  const workers: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && /^export const work\b/m.test(readFileSync(p, 'utf8')))
        workers.push(relative(src, p).replace(/\.ts$/, '.js'));
    }
  };
  walk(src);
  assert.ok(workers.length >= 4, `work modules found: ${workers.join(' ')}`);
  assert.deepEqual(Object.values(WORK_MODULES).sort(), workers.sort());
  for (const out of Object.keys(WORK_MODULES)) assert.ok(existsSync(join(repoRoot, 'dist', 'cli', `${out}.js`)), out);
  // the pool's look-up: a bundled file in place of a listed module, any other module as it is
  const bundle = {
    cli: 'file:///b/vbm.js',
    threadWorker: 'file:///b/t.js',
    workModules: { 'file:///s/a.js': 'file:///b/a.js' },
  };
  assert.equal(workModuleUrl('file:///s/a.js', bundle), 'file:///b/a.js');
  assert.equal(workModuleUrl('file:///s/b.js', bundle), 'file:///s/b.js');
  assert.equal(workModuleUrl('file:///s/a.js', undefined), 'file:///s/a.js');
  assert.equal(workModuleUrl('file:///s/a.js'), 'file:///s/a.js'); // unbundled, as this test runs
});

test('vbm run and vbm permute on worker threads: the bundled CLI writes the same files as the unbundled modules', () => {
  const t = tempDir('vbm-bundle-');
  try {
    const study = makeDemoStudy(shippedTemplate(), { n: 24, seed: 7 });
    const { design, mask } = writeDemoStudy(join(t.dir, 'cohort'), study);
    const fit = (cli: string, out: string): void =>
      void vbm(
        cli,
        ['run', design, '--mask', mask, '--covariates', 'age,sex,tiv', '--contrast', 'age-:T:age=-1'].concat([
          '--workers',
          '2',
          '-q',
          '--out',
          out,
        ]),
      );
    const bundled = join(t.dir, 'bundled');
    const unbundled = join(t.dir, 'unbundled');
    fit(VBM_CLI, bundled);
    fit(UNBUNDLED, unbundled);
    assertSameOutputs(bundled, unbundled, 'vbm run');
    // the local backend's tasks: processes that run the CLI (src/backend/backend.ts cliScript), each recording its script
    const log = join(t.dir, 'scripts.txt');
    const probe = join(t.dir, 'probe.mjs');
    writeFileSync(
      probe,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(log)}, process.argv[1] + '\\n');\n`,
    );
    const local = join(t.dir, 'local');
    vbm(
      VBM_CLI,
      ['run', design, '--mask', mask, '--covariates', 'age,sex,tiv', '--contrast', 'age-:T:age=-1', '-q'].concat([
        '--backend',
        'local',
        '--jobs',
        '2',
        '--out',
        local,
      ]),
      { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` },
    );
    const scripts = readFileSync(log, 'utf8').trim().split('\n');
    assert.ok(scripts.length >= 2, `the command and its task(s): ${scripts.join(' ')}`);
    assert.deepEqual(new Set(scripts), new Set([VBM_CLI]), 'every process runs the bundled CLI');
    assertSameOutputs(local, bundled, 'vbm run --backend local --jobs 2');
    // the permutation test's block modules: native kernel and the portable WebAssembly one
    for (const native of ['1', '0']) {
      const a = join(t.dir, `perm-b-${native}`);
      const b = join(t.dir, `perm-u-${native}`);
      cpSync(bundled, a, { recursive: true });
      cpSync(unbundled, b, { recursive: true });
      const args = ['--contrast', '1', '--permutations', '60', '--seed', '5', '--tfce', '--workers', '2', '-q'];
      vbm(VBM_CLI, ['permute', a, ...args], { VBM_NATIVE: native });
      vbm(UNBUNDLED, ['permute', b, ...args], { VBM_NATIVE: native });
      assertSameOutputs(a, b, `vbm permute, VBM_NATIVE=${native}`);
    }
  } finally {
    t.cleanup();
  }
});

test('a mistake through the bundled CLI: exit 2, the message, no stack trace', () => {
  const r = spawnSync(process.execPath, [VBM_CLI, 'run', join(repoRoot, 'no-such-design.csv'), '--out', '/tmp/x'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^vbm: error: .*no-such-design\.csv/m);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});

test('`vbm run` of a spreadsheet loads neither the YAML parser, csv-parse, @stdlib, the task backends, nor the later stages', () => {
  // the bundled files a run imports before its first await (vbm.js, the run command's chunk and
  // their static imports), by esbuild's `// <source path>` comments: what every start compiles
  const dir = join(repoRoot, 'dist', 'cli');
  const cli = readFileSync(join(dir, 'vbm.js'), 'utf8');
  const run = /import\("\.\/(run-[A-Z0-9]+\.js)"\)/.exec(cli)?.[1];
  assert.ok(run, 'vbm.js imports the run command on demand');
  const seen = new Set<string>();
  const visit = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s*"\.\/([^"]+\.js)"|^import\s*"\.\/([^"]+\.js)"/gms))
      visit(m[1] ?? m[2]);
  };
  visit('vbm.js');
  visit(run);
  const sources = [...seen].flatMap((f) =>
    [...readFileSync(join(dir, f), 'utf8').matchAll(/^\/\/ ((?:dist\/src|node_modules)\/\S+)$/gm)].map((m) => m[1]),
  );
  assert.ok(sources.includes('dist/src/pipeline/pipeline.js'), 'the pipeline is there');
  for (const unwanted of [
    /^node_modules\/yaml\//,
    // (backend/backend.ts, the seam's types and the CLI flags' checks, stays: a few hundred bytes)
    /^dist\/src\/backend\/(?!backend\.js$)/,
    /^dist\/src\/pipeline\/(results|label|permute|report|check)\.js$/,
    /^dist\/src\/permutation\/permute\.js$/,
    // a plain design sheet is split without csv-parse (loaded for quoted or padded ones)
    /^node_modules\/csv-parse\//,
    // the distributions (@stdlib's incomplete beta and gamma) load with variance groups or later stages
    /^node_modules\/@stdlib\//,
    /^dist\/src\/inference\/distributions\.js$/,
    /^dist\/src\/permutation\/accel\.js$/,
  ])
    assert.deepEqual(
      sources.filter((s) => unwanted.test(s)),
      [],
      `loaded at every start: ${unwanted}`,
    );
});
