/**
 * The one error type vbm throws for bad input. `message` says what is wrong and names the
 * file, row or column; `hint` says how to fix it. The CLI prints both and exits non-zero.
 */
export class VbmError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'VbmError';
    this.hint = hint;
  }
}

/** What vbm says for the operating system's file errors: what happened, and what to do. */
const FILE_ERRORS: Record<string, (path: string) => [string, string]> = {
  EEXIST: (p) => [
    `${p}: a file is in the way where vbm needs a folder (or a new file)`,
    'give --out a folder name that is not an existing file, or move the file away',
  ],
  ENOTDIR: (p) => [
    `${p}: part of this path is a file, not a folder`,
    'give --out a folder path; a file of that name is in the way',
  ],
  EISDIR: (p) => [`${p} is a folder where vbm expected a file`, 'give the path of a file'],
  EROFS: (p) => [
    `${p}: the file system is read-only`,
    'write the outputs elsewhere (--out, or copy the analysis folder to a writable place), or remount it writable',
  ],
  EACCES: (p) => [`${p}: permission denied`, "check the folder's permissions, or write the outputs elsewhere (--out)"],
  EPERM: (p) => [
    `${p}: operation not permitted`,
    "check the folder's permissions, or write the outputs elsewhere (--out)",
  ],
  ENOSPC: (p) => [
    `no space left on the device that holds ${p}`,
    'free some space or write elsewhere (--out), then run the same command again; nothing half-written was kept and previous outputs are intact',
  ],
  EDQUOT: (p) => [
    `disk quota exceeded writing ${p}`,
    'free some space or write elsewhere (--out), then run the same command again; nothing half-written was kept',
  ],
  EFBIG: (p) => [`${p}: file too large for the file system`, 'write the outputs to another file system (--out)'],
  EMFILE: (p) => [`too many open files (at ${p})`, 'raise the limit (ulimit -n) or use fewer --workers'],
  EIO: (p) => [
    `input/output error at ${p}`,
    'the disk or network file system failed; check it and run the same command again',
  ],
  ENOENT: (p) => [`${p}: no such file or folder`, 'check the path'],
};

/**
 * An operating-system file error (a Node error with a code and a path) as a VbmError naming the
 * path and what to do; any other error is returned as it is.
 */
export function fileErrorAsVbmError(err: unknown): unknown {
  if (err instanceof VbmError || !(err instanceof Error)) return err;
  const e = err as Error & { code?: string; path?: string; dest?: string; syscall?: string };
  const make = e.code ? FILE_ERRORS[e.code] : undefined;
  if (!make) return err;
  const raw = e.dest && (e.code === 'EEXIST' || e.code === 'ENOTDIR') ? e.dest : (e.path ?? e.dest ?? '(unknown path)');
  // name the file being written, not its temporary name (.NAME.tmp-PID-RANDOM, see node/atomic.ts)
  const path = raw.replace(/(^|[\\/])\.([^\\/]+)\.tmp-\d+-[a-z0-9]+$/, '$1$2');
  const [message, hint] = make(path);
  return new VbmError(`${message}${e.syscall ? ` (${e.syscall})` : ''}`, hint);
}

export function describeError(err: unknown): string {
  if (err instanceof VbmError) return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

/**
 * A broken internal invariant: a bug in vbm, never the user's input (so a plain Error, whose
 * stack the CLI shows, not a VbmError). `what` says which invariant.
 */
export function invariant(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`vbm internal error: ${what}`);
}

/** Element `i` of an array the caller has sized (an index out of range is a bug: it throws, naming `what`). */
export function item<T>(a: ArrayLike<T>, i: number, what = 'array'): T {
  const v = a[i];
  if (v === undefined) throw new Error(`vbm internal error: ${what}[${i}] is out of range (length ${a.length})`);
  return v;
}
