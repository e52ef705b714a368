/** Running the vbm CLI in a child process, as a user would, with its peak memory. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

/** What `vbm` runs: package.json's bin (the bundled CLI, dist/cli/vbm.js, made by `npm run build`), as for an installed vbm. */
export const VBM_CLI = join(
  repoRoot,
  (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { vbm: string } }).bin.vbm,
);
const CLI = VBM_CLI;
const PROBE = join(repoRoot, 'dist', 'test', 'support', 'rssProbe.js');
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child, MB. */
  rssMb: number;
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; preload?: string[] } = {},
): CliRun {
  const imports = [PROBE, ...(opts.preload ?? [])].flatMap((p) => ['--import', `file://${p}`]);
  const r = spawnSync(process.execPath, [...imports, CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...(opts.env ?? {}) },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const m = /VBM_TEST_MAX_RSS_KB=(\d+)/.exec(r.stderr);
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr.replace(/\nVBM_TEST_MAX_RSS_KB=\d+\n/, ''),
    rssMb: m ? Number(m[1]) / 1024 : NaN,
  };
}

/** A vbm refusal: exit 2, the message on stderr, no JavaScript stack trace. */
export function assertRefused(r: CliRun, ...patterns: RegExp[]): void {
  assert.equal(r.status, 2, `exit code 2 expected, got ${r.status}; stderr:\n${r.stderr.slice(0, 2000)}`);
  assert.match(r.stderr, /^vbm: error: /m);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  for (const p of patterns) assert.match(r.stderr, p);
}
