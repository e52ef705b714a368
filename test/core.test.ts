/**
 * The core's rule is enforced by the compiler: tsconfig.core.json (lib ES2022, `types: []`) knows
 * no Node module and no `process` or `console`. A throw-away module compiled with that config
 * beside the core, importing node:fs and using process and console, must fail with exactly
 * those three errors, and the core itself (src/core/index.ts and all it imports, compiled in the
 * same run) must give none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from './helpers.js';

test('tsconfig.core.json: a node:* import, process or console beside the core fails to compile; the core itself compiles clean', () => {
  const { dir, cleanup } = tempDir('vbm-core-rule-');
  try {
    writeFileSync(
      join(dir, 'impure.ts'),
      [
        `import { readFileSync } from 'node:fs';`,
        `import { decodeNifti } from ${JSON.stringify(join(repoRoot, 'src', 'core', 'index.js'))};`,
        `export const read = (p: string) => decodeNifti(readFileSync(p));`,
        `export const argv = process.argv;`,
        `console.log(argv);`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(repoRoot, 'tsconfig.core.json'),
        files: [join(repoRoot, 'src', 'core', 'index.ts'), join(repoRoot, 'types', 'core-env.d.ts'), 'impure.ts'],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(dir, 'tsconfig.json'),
        '--pretty',
        'false',
      ],
      { encoding: 'utf8' },
    );
    assert.notEqual(tsc.status, 0, 'the impure module must not compile');
    const errors = tsc.stdout
      .split('\n')
      .filter((l) => /error TS\d+/.test(l))
      .map((l) => l.trim());
    const inProbe = errors.filter((l) => l.includes('impure.ts'));
    assert.deepEqual(errors, inProbe, 'no error in the core itself');
    assert.equal(inProbe.length, 3, errors.join('\n'));
    assert.match(inProbe[0], /impure\.ts\(1,\d+\): error TS2307: Cannot find module 'node:fs'/);
    assert.match(inProbe[1], /impure\.ts\(4,\d+\): error TS25\d\d: Cannot find name 'process'/);
    assert.match(inProbe[2], /impure\.ts\(5,\d+\): error TS2584: Cannot find name 'console'/);
  } finally {
    cleanup();
  }
});
