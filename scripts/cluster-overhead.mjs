// Submission overhead of a small job (BENCHMARKS.md, Slurm stages): vbm permute --backend slurm
// --jobs 2 on the 24-scan test study, 200 permutations. Per run, the timeline from the command's
// start: sbatch (submissions.json), first task start (task log header), last task result, outputs
// merged (command end); and the same with --no-wait, whose reduce job writes the outputs.
// Usage: npm run build && SLURM_CONF=... node scripts/cluster-overhead.mjs [work folder]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const W = new URL('../dist', import.meta.url).pathname;
const { makeCohort, templateMask, writeCohort } = await import(`${W}/src/synth/phantom.js`);
const CLI = `${W}/cli/vbm.js`; // the bundled CLI, as `vbm` runs
const root = process.argv[2] ?? '/tmp/vbm-cluster-bench/small';
if (!existsSync(join(root, 'res', 'model.json'))) {
  mkdirSync(root, { recursive: true });
  const c = makeCohort({
    n: 24,
    dims: [24, 28, 24],
    voxelMm: 7,
    noiseFwhmMm: 12,
    seed: 5,
    effects: [{ covariate: 'age', centreMm: [35, -20, 10], sigmaMm: 9, perSd: 0.12 }],
  });
  const design = writeCohort(root, c, { format: 'nii' });
  writeFileSync(join(root, 'mask.nii'), templateMask(c));
  const r = spawnSync(process.execPath, [
    CLI,
    'run',
    design,
    '-o',
    join(root, 'res'),
    '--covariates',
    'age,sex',
    '--mask',
    join(root, 'mask.nii'),
    '--contrast',
    'age:T:age',
    '-q',
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
}
const args = (dir, extra) => [
  CLI,
  'permute',
  dir,
  '--contrast',
  '1',
  '--permutations',
  '200',
  '--seed',
  '1',
  '--backend',
  'slurm',
  '--jobs',
  '2',
  '-q',
  ...extra,
];
const taskTimes = (jobDir) => {
  const starts = [],
    ends = [];
  for (const f of readdirSync(join(jobDir, 'logs')).filter((f) => /^task_\d+\.log$/.test(f))) {
    const t = readFileSync(join(jobDir, 'logs', f), 'utf8');
    const m = [...t.matchAll(/, (\d{4}-\d\d-\d\dT[\d:.]+Z)\n/g)].map((x) => Date.parse(x[1]));
    starts.push(Math.min(...m));
  }
  for (const f of readdirSync(jobDir).filter((f) => f.endsWith('.result')))
    ends.push(statSync(join(jobDir, f)).mtimeMs);
  return { first: Math.min(...starts), lastResult: Math.max(...ends) };
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < 3; i++) {
  for (const mode of ['wait', 'no-wait']) {
    const dir = join(root, `${mode}-${i}`);
    rmSync(dir, { recursive: true, force: true });
    cpSync(join(root, 'res'), dir, { recursive: true });
    const t0 = Date.now();
    const r = spawnSync(process.execPath, args(dir, mode === 'no-wait' ? ['--no-wait'] : []), { encoding: 'utf8' });
    const tEnd = Date.now();
    if (r.status !== 0) throw new Error(r.stderr);
    const jobDir = join(dir, 'vbm-tasks', readdirSync(join(dir, 'vbm-tasks'))[0]);
    const subs = JSON.parse(readFileSync(join(jobDir, 'submissions.json'), 'utf8'));
    const arr = subs.find((s) => s.tasks.length);
    let done = tEnd;
    if (mode === 'no-wait') {
      const red = subs.find((s) => s.role === 'reduce');
      for (;;) {
        const q = spawnSync('squeue', ['-h', '-j', red.id, '-o', '%i'], { encoding: 'utf8' });
        if (q.status !== 0 || !q.stdout.trim()) break;
        await sleep(100);
      }
      done = statSync(join(dir, 'perm_0001.json')).mtimeMs;
    }
    const tt = taskTimes(jobDir);
    const s = (x) => ((x - t0) / 1000).toFixed(2);
    console.log(
      `${mode} #${i}: sbatch at ${s(Date.parse(arr.at))} s, first task start ${s(tt.first)} s, last task result ${s(tt.lastResult)} s, ${mode === 'wait' ? 'command returned (merged)' : `command returned ${s(tEnd)} s, reduce wrote the outputs`} ${s(done)} s; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
  }
}
