// The bundled CLI (part of `npm run build`, after tsc): the `vbm` command and the modules its worker
// threads load, made by esbuild from tsc's output in dist/src/ into dist/cli/ (ESM, platform node,
// split into shared chunks so that the CLI, the thread entry and the work modules share one copy of
// each module; with source maps). A command then loads a few files instead of ~700 (vbm's modules,
// @stdlib's many small ones, commander, yaml...). The library API (dist/src/index.js, vbm/core) is
// not bundled.
//
// What stays outside: packages with native `.node` files (@napi-rs/canvas, @node-rs/xxhash),
// vbm's own addon, the WebAssembly files and NiiVue's browser bundle (read by path at run time).
// Modules find such files from `import.meta.url`; in the bundle each module's `import.meta.url` is
// rewritten to the URL of its own file in dist/src/, so they resolve as they do unbundled. The
// module src/node/bundled.ts is replaced by a table of the bundle's files: the worker pool starts
// the bundled thread entry and work modules, and the backends' tasks run the bundled CLI.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_ENTRIES, WORK_MODULES } from './cli-entries.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dist', 'src');
const outdir = join(root, 'dist', 'cli');

/** `path` as a `./`- or `../`-relative URL from the bundle's folder. */
const fromOut = (path) => {
  const rel = relative(outdir, path).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
};

const table = `// the bundle's files (scripts/build-cli.mjs), in place of src/node/bundled.ts
const at = (p) => new URL(p, import.meta.url).href;
export const BUNDLE = {
  cli: at('./vbm.js'),
  threadWorker: at('./thread-worker.js'),
  workModules: {
${Object.entries(WORK_MODULES)
  .map(([out, mod]) => `    [at(${JSON.stringify(fromOut(join(src, mod)))})]: at('./${out}.js'),`)
  .join('\n')}
  },
};
export function workModuleUrl(url, bundle = BUNDLE) {
  return (bundle && Object.hasOwn(bundle.workModules, url) ? bundle.workModules[url] : undefined) ?? url;
}
`;

/** Rewrites `import.meta.url` in vbm's modules to their own file's URL; puts the table in place of bundled.js. */
const ownFiles = {
  name: 'vbm-own-files',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      if (args.path === join(src, 'node', 'bundled.js')) return { contents: table, loader: 'js', resolveDir: outdir };
      const code = readFileSync(args.path, 'utf8');
      const own = `new URL(${JSON.stringify(fromOut(args.path))}, import.meta.url).href`;
      return { contents: code.replaceAll('import.meta.url', own), loader: 'js' };
    });
  },
};

/**
 * fflate (gzip, for .nii.gz and .xlsx) loaded on first use: its ES module builds its tables and loads
 * node:worker_threads when it is evaluated, ~8 ms of every command's start that a plain .nii run never
 * needs. Imports of fflate resolve to a shim made here from fflate's own exports: each function (each
 * class, called with `new`) requires fflate's CommonJS build the first time it is called (the banner's
 * `require`); its one constant (FlateErrorCode) is copied.
 */
const fflateExports = createRequire(import.meta.url)('fflate');
const lazyFflate = {
  name: 'vbm-lazy-fflate',
  setup(b) {
    b.onResolve({ filter: /^fflate$/ }, () => ({ path: 'fflate', namespace: 'vbm-lazy-fflate' }));
    b.onLoad({ filter: /.*/, namespace: 'vbm-lazy-fflate' }, () => ({
      contents: [
        'let loaded;',
        "const fflate = () => (loaded ??= require('fflate'));",
        ...Object.entries(fflateExports).map(([name, value]) =>
          typeof value !== 'function'
            ? `export const ${name} = ${JSON.stringify(value)};`
            : /^[A-Z]/.test(name)
              ? `export function ${name}(...args) { return new (fflate().${name})(...args); }`
              : `export function ${name}(...args) { return fflate().${name}(...args); }`,
        ),
      ].join('\n'),
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const entryPoints = Object.fromEntries(
  Object.entries({ ...CLI_ENTRIES, ...WORK_MODULES }).map(([out, mod]) => [out, join(src, mod)]),
);
await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // packages with native parts, loaded from node_modules as usual
  external: ['@napi-rs/canvas', '@node-rs/xxhash', '*.node'],
  // the CommonJS packages bundled into these ES modules (@stdlib, ...) may require Node's own modules
  banner: {
    js: "import { createRequire as __vbmCreateRequire } from 'node:module'; const require = __vbmCreateRequire(import.meta.url);",
  },
  plugins: [ownFiles, lazyFflate],
  logLevel: 'warning',
});
chmodSync(join(outdir, 'vbm.js'), 0o755);
console.log(`build-cli: ${fromOut(join(outdir, 'vbm.js'))} (dist/cli/)`);
