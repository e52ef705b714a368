// npm run build:web: the pure core (src/core/index.ts) as one ES module for browsers and Web
// Workers, made with esbuild: dist/web/vbm-core.js (minified, with its source map).
// `node scripts/build-web.mjs [OUTFILE]` writes elsewhere.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = process.argv[2] ?? join(root, 'dist', 'web', 'vbm-core.js');
await build({
  entryPoints: [join(root, 'src', 'core', 'index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile,
  logLevel: 'warning',
});
console.log(`wrote ${outfile}`);
