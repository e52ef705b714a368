// Assemble the WebAssembly text kernels (src/**/*.wat) into dist/src/**/*.wasm with wabt's
// wat2wasm (an npm package, no native tools). Run by `npm run build` after tsc.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wat2wasm = join(dirname(createRequire(import.meta.url).resolve('wabt')), 'bin', 'wat2wasm');
for (const src of ['src/permutation/gemm.wat', 'src/estimation/accumulate.wat']) {
  const out = join(repo, 'dist', src.replace(/\.wat$/, '.wasm'));
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(process.execPath, [wat2wasm, '--enable-threads', join(repo, src), '-o', out], { stdio: 'inherit' });
}
