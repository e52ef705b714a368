// Assemble the WebAssembly text kernels (src/**/*.wat) into dist/src/**/*.wasm with wabt's
// wat2wasm (an npm package, no native tools). Run by `npm run build` after tsc.
// gemm.wat is also assembled as gemm-fma.wasm, with each multiply-then-add of its product
// (f32x4.add (acc) (f32x4.mul a x)) written as the fused f32x4.relaxed_madd of relaxed SIMD.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wat2wasm = join(dirname(createRequire(import.meta.url).resolve('wabt')), 'bin', 'wat2wasm');
const assemble = (src, out, flags) => {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(process.execPath, [wat2wasm, ...flags, src, '-o', out], { stdio: 'inherit' });
};
for (const src of ['src/permutation/gemm.wat', 'src/estimation/accumulate.wat']) {
  assemble(join(repo, src), join(repo, 'dist', src.replace(/\.wat$/, '.wasm')), ['--enable-threads']);
}
// the fused copy of the product kernel
const text = readFileSync(join(repo, 'src/permutation/gemm.wat'), 'utf8');
const madd = /\(f32x4\.add \(local\.get (\$c\d\d)\) \(f32x4\.mul \(local\.get (\$a)\) \(local\.get (\$x\d)\)\)\)/g;
let count = 0;
const fused = text.replace(madd, (_, acc, a, x) => {
  count++;
  return `(f32x4.relaxed_madd (local.get ${a}) (local.get ${x}) (local.get ${acc}))`;
});
if (count !== 8) throw new Error(`assemble-wat: expected 8 multiply-adds in gemm.wat, found ${count}`);
const tmp = mkdtempSync(join(tmpdir(), 'vbm-wat-'));
try {
  writeFileSync(join(tmp, 'gemm-fma.wat'), fused);
  assemble(join(tmp, 'gemm-fma.wat'), join(repo, 'dist/src/permutation/gemm-fma.wasm'), [
    '--enable-threads',
    '--enable-relaxed-simd',
  ]);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
