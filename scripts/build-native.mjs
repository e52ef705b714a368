// Build the optional native permutation kernel (native/vbm_kernel.c, an N-API addon) with node-gyp
// and copy it to dist/native/vbm_kernel.node. Run by `npm run build`. It never fails the build:
// without node-gyp, a C compiler or Node's headers, it says so and vbm uses the WebAssembly kernel.
// Set VBM_NATIVE=0 to skip it (and remove dist/native/vbm_kernel.node).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'dist/native/vbm_kernel.node');
const skip = (why) => {
  rmSync(out, { force: true });
  console.log(`build-native: ${why}; the permutation test uses the WebAssembly kernel`);
  process.exit(0);
};
if (process.env.VBM_NATIVE === '0') skip('skipped (VBM_NATIVE=0)');
if (process.platform !== 'linux' || process.arch !== 'x64')
  skip(`no native kernel for ${process.platform}-${process.arch}`);
const prefix = resolve(dirname(process.execPath), '..');
const gyp = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].find((p) => p && existsSync(p));
if (!gyp) skip('node-gyp not found');
// Node's headers where Node is installed (else node-gyp downloads them)
const nodedir =
  process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/common.gypi')) ? prefix : undefined);
const args = [gyp, 'rebuild', '--loglevel=error', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, {
  cwd: join(repo, 'native'),
  stdio: ['ignore', 'pipe', 'pipe'],
  timeout: 300_000,
});
const built = join(repo, 'native/build/Release/vbm_kernel.node');
if (r.status !== 0 || !existsSync(built)) {
  const tail = `${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  skip(`node-gyp failed${r.error ? ` (${r.error.message})` : ''}${tail ? `: ${tail}` : ''}`);
}
mkdirSync(dirname(out), { recursive: true });
copyFileSync(built, out);
console.log('build-native: dist/native/vbm_kernel.node');
