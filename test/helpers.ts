import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ../shared beside the repository: reference data, absent in a user's fresh clone. */
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const fixtureDir = join(sharedDir, 'fixtures', 'spm12-mreg-4mm');
export const hasShared = existsSync(join(sharedDir, 'README.md'));
/** For `test(name, { skip: needShared }, ...)`: a reason string when ../shared is missing. */
export const needShared: string | false = hasShared
  ? false
  : `../shared is absent (${sharedDir}); this test needs its reference data`;

export function tempDir(prefix = 'vbm-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A full disk for a test: a tmpfs of `size` (e.g. '64k') mounted on `small` inside a new temporary
 * folder `dir`, for `fn`; unmounted and removed after it. Returns why it could not be made (not root,
 * or no mount here: the caller skips), else undefined once fn is over.
 */
export async function onSmallDisk(
  size: string,
  fn: (small: string, dir: string) => void | Promise<void>,
): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const { dir, cleanup } = tempDir();
  const small = join(dir, 'small');
  mkdirSync(small);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', small], { stdio: 'ignore' });
  } catch {
    cleanup();
    return 'cannot mount a tmpfs here';
  }
  try {
    await fn(small, dir);
  } finally {
    try {
      execFileSync('umount', [small], { stdio: 'ignore' });
    } finally {
      cleanup();
    }
  }
  return undefined;
}

/** Largest relative difference over paired finite values; NaN pattern must agree. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
      continue;
    }
    m = Math.max(m, Math.abs(x - y) / Math.max(floor, Math.abs(y)));
  }
  return m;
}
