/**
 * node dist/bench/fitKernel.js: the fit's accumulation kernels alone, on synthetic float32 scans
 * on the seed cohort's grid (121x145x121, an ellipsoid of ~620k candidate voxels, 5 design columns):
 * the JavaScript addScans, the WebAssembly SIMD accumulator and the native one (vbm_fit.c), batches of 8 scans with and without
 * the residual-subset products. Prints CPU ms and ns per voxel-scan (the best of 5 passes).
 */
import {
  type FitLayout,
  type ScanContribution,
  addScans,
  createScratch,
  createSums,
} from '../src/estimation/accumulate.js';
import { createSumAccumulator } from '../src/estimation/accumulateWasm.js';

/** Scans per batch (VBM_BENCH_BATCH, default 8 as the fit). */
const BATCH = Number(process.env.VBM_BENCH_BATCH ?? 8);
const dims: [number, number, number] = [121, 145, 121];
const [nx, ny, nz] = dims;
const cand: number[] = [];
for (let z = 0; z < nz; z++)
  for (let y = 0; y < ny; y++)
    for (let x = 0; x < nx; x++) {
      const r = ((x - 60) / 56) ** 2 + ((y - 72) / 68) ** 2 + ((z - 60) / 56) ** 2;
      if (r <= 0.78) cand.push(x + nx * (y + ny * z));
    }
const layout: FitLayout = { dims, cand: new Int32Array(cand), p: 5, smoothness: true };
const acc = createSumAccumulator(layout, BATCH, { kernel: 'wasm' });
if (!acc) throw new Error('no WebAssembly SIMD here');
// the native kernel (vbm_fit.c) on an accumulator of its own, when the addon has it
const accN = createSumAccumulator(layout, BATCH, { kernel: 'native' });
const native = accN && accN.kernel !== 'wasm' ? accN : undefined;
let seed = 1;
const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const scans = (resid: boolean, slots = acc.slots): ScanContribution[] =>
  slots.map((data, k) => {
    for (let i = 0; i < data.length; i++) data[i] = 0.2 + rnd();
    return {
      data,
      x: [1, rnd(), k % 2, rnd() > 0.5 ? 1 : 0, rnd()],
      inResidualSubset: resid,
      threshold: -Infinity,
      zeroIsMissing: false,
    };
  });
const n = cand.length;
process.stdout.write(`${n} candidate voxels, batches of ${BATCH} scans, p = 5\n`);
for (const resid of [false, true]) {
  const batch = scans(resid);
  const sums = createSums(layout);
  const scratch = createScratch(layout);
  const runs: [string, () => void][] = [
    ['JavaScript addScans', () => addScans(sums, layout, scratch, batch)],
    ['WebAssembly SIMD', () => acc.add(batch)],
  ];
  if (native) {
    const nbatch = scans(resid, native.slots);
    runs.push([`native ${native.kernel.replace('native-', '')}`, () => native.add(nbatch)]);
  }
  for (const [name, run] of runs) {
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = process.cpuUsage();
      run();
      const u = process.cpuUsage(t);
      best = Math.min(best, (u.user + u.system) / 1000);
    }
    process.stdout.write(
      `  ${name.padEnd(20)} ${resid ? 'residual scans' : 'other scans   '}  ${best.toFixed(0).padStart(5)} ms CPU  ${((best * 1e6) / (BATCH * n)).toFixed(2)} ns per voxel-scan\n`,
    );
  }
}
