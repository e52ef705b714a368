/**
 * The fit as tasks. The scans are cut into the fit's fixed chunks (FIT_CHUNK consecutive scans;
 * with variance groups, each group's scans in their own chunks, group after group); each task
 * sums a run of whole chunks, each from zero, and writes each chunk's sums; the reduce adds each
 * group's chunks' sums in chunk order, exactly as the in-process fit does, so beta, ResMS and RPV
 * (and the ReML of a design with variance groups) are the same bytes for any number of tasks or
 * worker threads.
 */
import { sha256Hex } from '../node/contentHash.js';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { type FitSums, mergeSums } from '../estimation/accumulate.js';
import { FIT_CHUNK, fitChunks } from '../estimation/fitChunks.js';
import { type FitJob, type ScanReport, runFitJob } from '../estimation/fitJob.js';
import { VBM_VERSION } from '../node/version.js';
import { TasksSubmitted } from '../pipeline/taskBackend.js';
import type { BackendSettings, TaskRunner } from './backend.js';
import { type RunJobOptions, runJob } from './runJob.js';
import { runnerFor } from './runners.js';
import {
  type JobFolder,
  type TaskFile,
  MERGED,
  TASK_FORMAT,
  checkInputs,
  ResultReader,
  encodeResult,
  jobFolder,
  resultPath,
  sha256File,
  writeJobRecord,
  writeTaskFiles,
} from './taskFiles.js';

export interface FitWork {
  /** The task's chunks, numbered from firstChunk in the job's list of chunks. */
  firstChunk: number;
  chunks: number;
  /** Each chunk's scans and the set of sums (variance group) it adds to. */
  parts: { group: number; scans: FitJob['scans'] }[];
  dims: [number, number, number];
  p: number;
  smoothness: boolean;
  /** The candidate voxels (int32, little-endian) in the job folder. */
  candFile: string;
  threshold: FitJob['threshold'];
  implicit: boolean;
  reference: FitJob['reference'];
}

const SUM_FIELDS = ['ok', 'vmin', 'vmax', 'yy', 'xty', 'ryy', 'rxty'] as const;

/**
 * Write the fit's tasks and run them; resolves to one set of sums per job (one job, or one per
 * variance group; the jobs differ only in their scans), each added in chunk order.
 */
export async function fitOnBackend(
  analysisDir: string,
  jobs: FitJob[],
  settings: BackendSettings,
  onScan: (r: ScanReport) => void,
  opts: Omit<RunJobOptions, 'retries' | 'wait'> & { runner?: TaskRunner } = {},
): Promise<FitSums[]> {
  const job = jobs[0];
  const chunkList = jobs.flatMap((j, g) => fitChunks(j).map((c) => ({ group: g, scans: c.scans })));
  const nChunks = chunkList.length;
  const T = Math.min(settings.jobs, nChunks);
  const cand = Buffer.from(job.layout.cand.buffer, job.layout.cand.byteOffset, job.layout.cand.byteLength);
  const candSha = sha256Hex(cand);
  // scans are named by path, size and modification time (their content hashes come back from the tasks)
  const files = [...new Set(chunkList.flatMap((c) => c.scans.map((s) => s.ref.path)))].map((f) => {
    const st = statSync(f);
    return [f, st.size, st.mtimeMs];
  });
  const { scans: _s, layout, ...rest } = job;
  void _s;
  const key = sha256Hex(
    JSON.stringify({
      v: VBM_VERSION,
      format: 'fit/2',
      files,
      chunks: chunkList,
      layout: { dims: layout.dims, p: layout.p, smoothness: layout.smoothness },
      candSha,
      rest,
      T,
      FIT_CHUNK,
    }),
  ).slice(0, 10);
  const folder = jobFolder(analysisDir, `fit_${key}`, T);
  writeJobRecord(folder, {
    kind: 'fit',
    backend: settings.type,
    scans: chunkList.reduce((n, c) => n + c.scans.length, 0),
    chunks: nChunks,
    ...(jobs.length > 1 ? { varianceGroups: jobs.length } : {}),
  });
  const candFile = join(folder.dir, 'cand.bin');
  try {
    if (sha256File(candFile) !== candSha) writeFileAtomic(candFile, cand);
  } catch {
    writeFileAtomic(candFile, cand);
  }
  const tasks = [...Array(T).keys()].map((k): TaskFile<FitWork> => {
    const c0 = Math.floor((k * nChunks) / T);
    const c1 = Math.floor(((k + 1) * nChunks) / T);
    return {
      format: TASK_FORMAT,
      kind: 'fit',
      job: folder.name,
      task: k,
      tasks: T,
      analysis: analysisDir,
      inputs: [{ path: candFile, sha256: candSha }],
      work: {
        firstChunk: c0,
        chunks: c1 - c0,
        parts: chunkList.slice(c0, c1),
        dims: layout.dims,
        p: layout.p,
        smoothness: layout.smoothness,
        candFile,
        threshold: rest.threshold,
        implicit: rest.implicit,
        reference: rest.reference,
      },
    };
  });
  writeTaskFiles(folder, tasks);
  rmSync(join(folder.dir, MERGED), { force: true });
  const outcome = await runJob(folder, opts.runner ?? runnerFor(settings), {
    ...opts,
    retries: settings.retries,
    wait: settings.wait,
  });
  if (!outcome.complete) {
    throw new TasksSubmitted(
      `the fit was submitted as ${T} ${settings.type} tasks (${folder.dir}) and is not finished`,
      'the same command run again when they are done (vbm show follows them) adds their sums and goes on',
      [folder.dir],
    );
  }
  // chunk order: task by task, chunk by chunk, one chunk's sums read at a time (a task's result
  // holds ~140 MB per chunk on the seed-size cohort); the content hash is checked after each task's
  // chunks, before anything is written
  const totals: (FitSums | undefined)[] = jobs.map(() => undefined);
  for (const t of tasks) {
    const p = resultPath(folder, t.task);
    const result = new ResultReader(p);
    const meta = result.meta;
    try {
      if (
        meta.job !== t.job ||
        meta.task !== t.task ||
        meta.firstChunk !== t.work.firstChunk ||
        meta.chunks !== t.work.chunks
      )
        throw new VbmError(
          `task result ${p} is not the result of task ${t.task}`,
          'delete it and run the command again',
        );
      mergeTaskChunks(t, result, totals, layout);
    } finally {
      result.close();
    }
    for (const r of meta.reports as ScanReport[]) onScan(r);
  }
  // the chunks' sums are large (about the size of the data at 16 float64 per voxel per chunk) and
  // the estimate stage keeps its outputs: drop them, keep the task files and logs
  writeFileAtomic(join(folder.dir, MERGED), `${new Date().toISOString()}\n`);
  for (const t of tasks) rmSync(resultPath(folder, t.task), { force: true });
  return totals.map((t) => t!);
}

/** Add a task's chunks' sums, in chunk order, to their variance groups' totals. */
function mergeTaskChunks(
  t: TaskFile<FitWork>,
  result: ResultReader,
  totals: (FitSums | undefined)[],
  layout: FitJob['layout'],
): void {
  for (let c = 0; c < t.work.chunks; c++) {
    const get = <A>(f: string): A => {
      const s = result.section(`${c}.${f}`);
      if (!s)
        throw new VbmError(
          `task result of task ${t.task} has no section ${c}.${f}`,
          'delete it and run the command again',
        );
      return s as A;
    };
    const s: FitSums = {
      nCand: layout.cand.length,
      p: layout.p,
      ok: get('ok'),
      vmin: get('vmin'),
      vmax: get('vmax'),
      yy: get('yy'),
      xty: get('xty'),
      ryy: get('ryy'),
      rxty: get('rxty'),
    };
    const g = t.work.parts[c].group;
    const total = totals[g];
    if (total) mergeSums(total, s);
    else totals[g] = s;
  }
}

/** Run one fit task: each of its chunks summed from zero, all written in one result file. */
export function runFitTask(t: TaskFile<FitWork>, job: JobFolder): string {
  checkInputs(t);
  const w = t.work;
  const raw = readFileSync(w.candFile);
  const cand = new Int32Array(raw.byteLength / 4);
  new Uint8Array(cand.buffer).set(raw);
  const layout = { dims: w.dims, cand, p: w.p, smoothness: w.smoothness };
  const reports: ScanReport[] = [];
  const sections: { name: string; data: FitSums[(typeof SUM_FIELDS)[number]] }[] = [];
  for (let c = 0; c < w.chunks; c++) {
    const sums = runFitJob(
      {
        scans: w.parts[c].scans,
        layout,
        threshold: w.threshold,
        implicit: w.implicit,
        reference: w.reference,
      },
      (r) => reports.push(r),
    );
    for (const f of SUM_FIELDS) sections.push({ name: `${c}.${f}`, data: sums[f] });
  }
  const out = resultPath(job, t.task);
  writeFileAtomic(
    out,
    encodeResult({ job: t.job, task: t.task, firstChunk: w.firstChunk, chunks: w.chunks, reports }, sections),
  );
  return out;
}
