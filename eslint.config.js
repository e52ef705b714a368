// ESLint: typescript-eslint's type-checked rules, plus the layer rules that keep vbm's tree honest.
// Layers, lowest first (a module may import only from its own layer or lower ones):
//   errors, random, work, settings
//   io              (pure: NIfTI decode/encode, headers, affines, tables, CSV text)
//   node            (the Node services: files, NIfTI files, gzip, spreadsheets, hashing, atomic writes,
//                    locks, threads, the version)
//   model, inference
//   estimation, check, permutation, atlas, synth
//   plot, report
//   core            (src/core/index.ts: the pure engine's public entry, vbm/core)
//   pipeline
//   backend
//   cli
// The pure folders and files (errors, random, work, settings/, io/, model/, inference/, the pure
// permutation modules, src/core/)
// import no node:* module and nothing from node/, and use no process and no console
// (tsconfig.core.json also makes the compiler refuse them in all that src/core reaches).
// The rules hold with no exceptions (issue 12 moved the last file reading out of model/, permutation/, plot/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LAYERS = [
  ['errors', 'random', 'work', 'settings'],
  ['io'],
  ['node'],
  ['model', 'inference'],
  ['estimation', 'check', 'permutation', 'atlas', 'synth'],
  ['plot', 'report'],
  ['core'],
  ['pipeline'],
  ['backend'],
  ['cli'],
];

/** permutation/ modules that are pure (no node:*, process, console): what src/core may export. */
const PURE_PERMUTATION = [
  'accel',
  'blockEngine',
  'blockWork',
  'brickBox',
  'dataMatrix',
  'engine',
  'kernel',
  'nativeProduct',
  'nuisance',
  'partition',
  'permutationTest',
  'pValues',
  'rankQueue',
  'schemePlan',
  'schemes',
  'streamed',
  'tailMerge',
  'tfce',
  'tfceFlood',
  'tfceNative',
  'types',
  'voxelBlocks',
  'voxelTail',
  'welch',
];

/** Folders above layer `i`, which files of layer `i` must not import. */
function higher(i) {
  return LAYERS.slice(i + 1).flat();
}

/** The index in LAYERS of the layer holding `folder`. */
function layerOf(folder) {
  return LAYERS.findIndex((l) => l.includes(folder));
}

/** What a pure module must not import: the layers above its own, and the Node services (node/). */
function notPure(folder) {
  return [...new Set(higher(layerOf(folder)).concat('node'))];
}

/**
 * The import pattern for modules of `folders`: `../`-relative from a file in a folder
 * (src/io/nifti/read.ts -> ../../node/...), `./`-relative from a file at the top of src/
 * (src/work.ts -> ./node/...).
 */
function importsOf(folders, top) {
  return `^${top ? '\\./' : '(\\.\\./)+'}(${folders.join('|')})(/|\\.js$)`;
}

/**
 * ESLint entries for one folder of src/ (and its top-level file src/<folder>.ts, if any): `forbidden`
 * folders may not be imported; a pure one also imports no node:* module and uses no process or console.
 */
function layerEntries(folder, forbidden, message, pure) {
  const purity = pure
    ? {
        'no-restricted-globals': ['error', { name: 'process', message: `${pure} does not read process.` }],
        'no-console': 'error',
      }
    : {};
  return [false, true].map((top) => ({
    files: top ? [`src/${folder}.ts`] : [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(pure
              ? [{ regex: '^node:', message: `${pure} is pure: no node:* modules (do I/O in node/ or a shell above).` }]
              : []),
            ...(forbidden.length ? [{ regex: importsOf(forbidden, top), message }] : []),
          ],
        },
      ],
      ...purity,
    },
  }));
}

const layerRules = LAYERS.flatMap((folders, i) =>
  folders.flatMap((folder) =>
    layerEntries(
      folder,
      higher(i),
      `src/${folder} sits below ${higher(i).join(', ')}: import downward only (see README, Design of the code).`,
    ),
  ),
);

/** Pure folders and top-level files: no node:*, no process, no console, nothing from node/ or above. */
const PURE = ['errors', 'random', 'work', 'settings', 'io', 'model', 'inference', 'core'];
const pureRules = PURE.flatMap((folder) =>
  layerEntries(
    folder,
    notPure(folder),
    `src/${folder} is pure: it imports neither the layers above it nor the Node services (node/).`,
    `src/${folder}`,
  ),
);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'types/**',
      'node_modules/**',
      'bench-data/**',
      'demo-output/**',
      'scripts/*.mjs',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
    },
  },
  ...layerRules,
  ...pureRules,
  {
    // the pure part of permutation/ (its Node shells: permute.ts, checkpoint.ts, memoryBudget.ts,
    // scratchMatrix.ts, streamWork.ts)
    files: PURE_PERMUTATION.map((f) => `src/permutation/${f}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'this permutation module is pure: no node:* modules (do I/O in permute.ts).' },
            {
              regex: `^(\\.\\./)+(${notPure('permutation').join('|')})(/|\\.js$)`,
              message: `pure permutation modules import neither ${higher(layerOf('permutation')).join(', ')} nor the Node services (node/).`,
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'the permutation engine does not read process.' }],
      'no-console': 'error',
    },
  },
);
