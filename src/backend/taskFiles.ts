/**
 * Task files of a job in an analysis folder: `<analysis>/vbm-tasks/<job>/task_0003.json` says
 * what one task computes (inputs by path and content hash, the block of work it owns, the seed);
 * the task writes `task_0003.result` atomically when it has finished. A job folder also holds the
 * record of its submissions (`submissions.json`) and the tasks' logs (`logs/task_0003.log`).
 * These files are the whole interface between the submitting command and the tasks, so the same
 * task files run in local processes and in Slurm array tasks.
 */
import { createHash } from 'node:crypto';
import { fileSha256, sha256Hex } from '../node/contentHash.js';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';

export const TASK_FORMAT = 'vbm-task/1';
export const TASKS_FOLDER = 'vbm-tasks';
/** Written in a job folder whose results were merged and then removed (the fit's chunk sums). */
export const MERGED = 'merged';

/** An input file a task reads, with the content hash it must still have. */
export interface TaskInput {
  path: string;
  sha256: string;
}

/** One task, as written to task_NNNN.json. `work` is the kind-specific part. */
export interface TaskFile<W = unknown> {
  format: typeof TASK_FORMAT;
  kind: string;
  job: string;
  task: number;
  tasks: number;
  analysis: string;
  inputs: TaskInput[];
  work: W;
}

/** The folders and files of one job. */
export interface JobFolder {
  /** The job's name (unique within the analysis folder for the same settings). */
  name: string;
  dir: string;
  tasks: number;
}

export function jobFolder(analysisDir: string, name: string, tasks: number): JobFolder {
  return { name, dir: join(analysisDir, TASKS_FOLDER, name), tasks };
}

export const pad4 = (k: number): string => String(k).padStart(4, '0');
export const taskPath = (job: JobFolder, k: number): string => join(job.dir, `task_${pad4(k)}.json`);
export const resultPath = (job: JobFolder, k: number): string => join(job.dir, `task_${pad4(k)}.result`);
export const logPath = (job: JobFolder, k: number): string => join(job.dir, 'logs', `task_${pad4(k)}.log`);

/** SHA-256 of a task input's file (streamed). */
export const sha256File = fileSha256;

/** Write the task files of a job (unchanged files are left alone, so their results stay valid). */
export function writeTaskFiles(job: JobFolder, tasks: TaskFile[]): void {
  mkdirSync(join(job.dir, 'logs'), { recursive: true });
  for (const t of tasks) {
    const text = JSON.stringify(t, null, 1) + '\n';
    const p = taskPath(job, t.task);
    if (existsSync(p) && readFileSync(p, 'utf8') === text) continue;
    writeFileAtomic(p, text);
  }
}

export function readTaskFile(path: string): TaskFile {
  if (!existsSync(path)) throw new VbmError(`task file not found: ${path}`);
  let t: TaskFile;
  try {
    t = JSON.parse(readFileSync(path, 'utf8')) as TaskFile;
  } catch (e) {
    throw new VbmError(
      `task file ${path} is not valid JSON (${(e as Error).message})`,
      'run the command that wrote it again',
    );
  }
  const format: unknown = t.format; // as written, which may be another version's
  if (format !== TASK_FORMAT)
    throw new VbmError(
      `${path} is not a vbm task file of this version (format '${String(format)}', expected '${TASK_FORMAT}')`,
      'run the command that wrote it again with this vbm',
    );
  return t;
}

/** Check that a task's inputs still have the content the task was written for. */
export function checkInputs(t: TaskFile): void {
  for (const f of t.inputs) {
    if (!existsSync(f.path))
      throw new VbmError(
        `task ${t.task} of job ${t.job}: input ${f.path} cannot be seen from this machine`,
        'vbm assumes the analysis folder and the scans are on a filesystem shared by every node',
      );
    const h = sha256File(f.path);
    if (h !== f.sha256)
      throw new VbmError(
        `task ${t.task} of job ${t.job}: ${f.path} changed since the task was written (content hash differs)`,
        'run the submitting command again: it writes new tasks',
      );
  }
}

// ---- results: a JSON header line, then the arrays' bytes (little-endian, as typed arrays are on every platform Node runs on)

const MAGIC = 'vbm-task-result/1\n';

export type SectionData = Float64Array | Float32Array | Uint32Array | Uint8Array;
const SECTION_TYPES = { f64: Float64Array, f32: Float32Array, u32: Uint32Array, u8: Uint8Array } as const;
type SectionType = keyof typeof SECTION_TYPES;

export interface ResultSection {
  name: string;
  data: SectionData;
}

function typeOf(d: SectionData): SectionType {
  if (d instanceof Float64Array) return 'f64';
  if (d instanceof Float32Array) return 'f32';
  if (d instanceof Uint32Array) return 'u32';
  return 'u8';
}

export function encodeResult(meta: Record<string, unknown>, sections: ResultSection[]): Uint8Array {
  const parts = sections.map((s) => new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength));
  const payload = Buffer.concat(parts);
  const header = JSON.stringify({
    ...meta,
    sections: sections.map((s) => ({ name: s.name, type: typeOf(s.data), length: s.data.length })),
    sha256: sha256Hex(payload),
  });
  return Buffer.concat([Buffer.from(MAGIC + header + '\n'), payload]);
}

export function decodeResult(
  bytes: Uint8Array,
  where: string,
): { meta: Record<string, unknown>; sections: Map<string, SectionData> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): VbmError =>
    new VbmError(
      `task result ${where} is damaged (${why})`,
      'delete it and run the submitting command again: only that task is run again',
    );
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) throw bad('not a vbm task result');
  const nl = buf.indexOf(10, MAGIC.length);
  if (nl < 0) throw bad('no header');
  const meta = JSON.parse(buf.subarray(MAGIC.length, nl).toString()) as Record<string, unknown> & {
    sections: { name: string; type: SectionType; length: number }[];
    sha256: string;
  };
  const payload = buf.subarray(nl + 1);
  if (sha256Hex(payload) !== meta.sha256) throw bad('content hash differs');
  const sections = new Map<string, SectionData>();
  let off = 0;
  for (const s of meta.sections) {
    const Type = SECTION_TYPES[s.type];
    if (!Type) throw bad(`section ${s.name} has an unknown type`);
    const size = Type.BYTES_PER_ELEMENT;
    if (off + s.length * size > payload.length) throw bad(`section ${s.name} is short`);
    const raw = new Uint8Array(s.length * size);
    raw.set(payload.subarray(off, off + raw.length));
    sections.set(s.name, new Type(raw.buffer));
    off += raw.length;
  }
  return { meta, sections };
}

/**
 * A task result read a section at a time (the fit's results hold ~140 MB per chunk): the header
 * first, then each section from its place in the file, so that only the sections in use are in
 * memory. The content hash is checked by `close()`, over every byte, after the sections were read:
 * a caller uses what it read only once close() has returned.
 */
export class ResultReader {
  readonly meta: Record<string, unknown>;
  private readonly fd: number;
  private readonly at = new Map<string, { type: SectionType; length: number; offset: number }>();
  private readonly hash = createHash('sha256');
  private hashed = 0;
  private readonly start: number;
  private readonly size: number;
  private readonly expected: string;

  constructor(private readonly where: string) {
    this.fd = openSync(where, 'r');
    try {
      this.size = fstatSync(this.fd).size;
      // the header line: read in growing pieces until its newline
      let head = Buffer.alloc(0);
      let nl = -1;
      while (nl < 0 && head.length < this.size) {
        const piece = Buffer.alloc(Math.min(1 << 20, this.size - head.length));
        readSync(this.fd, piece, 0, piece.length, head.length);
        head = Buffer.concat([head, piece]);
        nl = head.indexOf(10, MAGIC.length);
      }
      if (head.subarray(0, MAGIC.length).toString() !== MAGIC) throw this.bad('not a vbm task result');
      if (nl < 0) throw this.bad('no header');
      const meta = JSON.parse(head.subarray(MAGIC.length, nl).toString()) as Record<string, unknown> & {
        sections: { name: string; type: SectionType; length: number }[];
        sha256: string;
      };
      this.meta = meta;
      this.expected = meta.sha256;
      this.start = nl + 1;
      let off = 0;
      for (const sct of meta.sections) {
        const Type = SECTION_TYPES[sct.type];
        if (!Type) throw this.bad(`section ${sct.name} has an unknown type`);
        this.at.set(sct.name, { type: sct.type, length: sct.length, offset: off });
        off += sct.length * Type.BYTES_PER_ELEMENT;
      }
      if (this.start + off > this.size) throw this.bad('a section is short');
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  private bad(why: string): VbmError {
    return new VbmError(
      `task result ${this.where} is damaged (${why})`,
      'delete it and run the submitting command again: only that task is run again',
    );
  }

  private readAt(into: Uint8Array, offset: number): void {
    for (let done = 0; done < into.length;) {
      const got = readSync(this.fd, into, done, Math.min(1 << 30, into.length - done), this.start + offset + done);
      if (got <= 0) throw this.bad('it ends early');
      done += got;
    }
    // sections read in the order they were written are hashed as they come
    if (offset === this.hashed) {
      this.hash.update(into);
      this.hashed += into.length;
    }
  }

  /** One section's values (undefined when the result has no such section). */
  section(name: string): SectionData | undefined {
    const s = this.at.get(name);
    if (!s) return undefined;
    const Type = SECTION_TYPES[s.type];
    const raw = new Uint8Array(s.length * Type.BYTES_PER_ELEMENT);
    this.readAt(raw, s.offset);
    return new Type(raw.buffer);
  }

  /** Check the content hash (reading what was not read in order) and close the file. */
  close(): void {
    try {
      const total = this.size - this.start;
      const piece = new Uint8Array(Math.min(64 << 20, Math.max(1, total - this.hashed)));
      while (this.hashed < total) {
        const view = piece.subarray(0, Math.min(piece.length, total - this.hashed));
        this.readAt(view, this.hashed);
      }
      if (this.hash.digest('hex') !== this.expected) throw this.bad('content hash differs');
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Tasks of a job whose result file exists. */
export function finishedTasks(job: JobFolder): Set<number> {
  const done = new Set<number>();
  if (!existsSync(job.dir)) return done;
  for (const f of readdirSync(job.dir)) {
    const m = /^task_(\d{4,})\.result$/.exec(f);
    if (m && Number(m[1]) < job.tasks) done.add(Number(m[1]));
  }
  return done;
}

// ---- submissions: what was started, so that reruns start only what is missing

export interface Submission {
  backend: 'local' | 'slurm';
  /** Slurm job id (or a local label). */
  id: string;
  tasks: number[];
  attempt: number;
  at: string;
  /** A job that runs no task: the probe (nodes see the folder) or the reduce (runs the command again when the tasks succeeded). */
  role?: 'probe' | 'reduce';
  /** The reduce job's log (it may live in another job's folder). */
  log?: string;
  /** An array shared with other jobs' tasks (several models): its Slurm job name, and the array index of each of `tasks`. */
  name?: string;
  index?: number[];
}

/** The array index of task `t` in submission `s` (its task number unless the array is shared), or undefined. */
export function arrayIndexOf(s: Submission, t: number): number | undefined {
  const k = s.tasks.indexOf(t);
  if (k < 0) return undefined;
  return s.index ? s.index[k] : t;
}

/** The task of array index `i` of submission `s`, or undefined. */
export function taskOfIndex(s: Submission, i: number): number | undefined {
  if (!s.index) return s.tasks.includes(i) ? i : undefined;
  const k = s.index.indexOf(i);
  return k < 0 ? undefined : s.tasks[k];
}

export function readSubmissions(job: JobFolder): Submission[] {
  const p = join(job.dir, 'submissions.json');
  if (!existsSync(p)) return [];
  return JSON.parse(readFileSync(p, 'utf8')) as Submission[];
}

export function recordSubmission(job: JobFolder, s: Submission): void {
  const list = readSubmissions(job);
  list.push(s);
  writeFileAtomic(join(job.dir, 'submissions.json'), JSON.stringify(list, null, 1) + '\n');
}

/** The jobs in an analysis folder (each with its task count, from the job's job.json). */
export function listJobs(analysisDir: string): JobFolder[] {
  const root = join(analysisDir, TASKS_FOLDER);
  if (!existsSync(root)) return [];
  const out: JobFolder[] = [];
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name, 'job.json');
    if (!existsSync(p)) continue;
    const j = JSON.parse(readFileSync(p, 'utf8')) as { tasks: number };
    out.push(jobFolder(analysisDir, name, j.tasks));
  }
  return out;
}

export function writeJobRecord(job: JobFolder, record: Record<string, unknown>): void {
  mkdirSync(job.dir, { recursive: true });
  const p = join(job.dir, 'job.json');
  const text = JSON.stringify({ name: job.name, tasks: job.tasks, ...record }, null, 1) + '\n';
  if (existsSync(p) && readFileSync(p, 'utf8') === text) return;
  writeFileAtomic(p, text);
}
