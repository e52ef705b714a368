// ESLint: typescript-eslint's type-checked rules, plus the layer rules that keep vbm's tree honest.
// Layers, lowest first (a module may import only from its own layer or lower ones):
//   errors, version, random, work, settings
//   io, node
//   model, inference
//   estimation, check, permutation, atlas, synth
//   plot, report
//   core            (src/core/index.ts: the pure engine's public entry, vbm/core)
//   pipeline
//   backend
//   cli
// The numerical core (model/, inference/) imports no node:* module, no process and no console;
// neither does src/core/ (and tsconfig.core.json makes the compiler refuse them in all it reaches).
// The rules hold with no exceptions (issue 12 moved the last file reading out of model/, permutation/, plot/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LAYERS = [
  ['errors', 'version', 'random', 'work', 'settings'],
  ['io', 'node'],
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
  'dataMatrix',
  'engine',
  'kernel',
  'nativeProduct',
  'nuisance',
  'partition',
  'permutationTest',
  'pValues',
  'schemePlan',
  'schemes',
  'streamed',
  'tfce',
  'types',
  'voxelBlocks',
  'welch',
];

/** Folders above layer `i`, which files of layer `i` must not import. */
function higher(i) {
  return LAYERS.slice(i + 1).flat();
}

const layerRules = LAYERS.flatMap((folders, i) =>
  folders.map((folder) => ({
    files: [`src/${folder}/**/*.ts`, `src/${folder}.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: higher(i).length
            ? [
                {
                  regex: `^(\\.\\./)+(${higher(i).join('|')})(/|\\.js$)`,
                  message: `src/${folder} sits below ${higher(i).join(', ')}: import downward only (see README, Design of the code).`,
                },
              ]
            : [],
        },
      ],
    },
  })),
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
  {
    files: ['src/model/**/*.ts', 'src/inference/**/*.ts', 'src/settings/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'the numerical core is pure: no node:* modules (do I/O in a shell layer).' },
            {
              regex: `^(\\.\\./)+(${higher(2).join('|')})(/|\\.js$)`,
              message: `the numerical core sits below ${higher(2).join(', ')}: import downward only.`,
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'the numerical core does not read process.' }],
      'no-console': 'error',
    },
  },
  {
    // the pure part of permutation/ (its Node shells: permute.ts, checkpoint.ts, memoryBudget.ts,
    // scratchMatrix.ts, streamWork.ts) and the work seam
    files: PURE_PERMUTATION.map((f) => `src/permutation/${f}.ts`).concat('src/work.ts'),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'this permutation module is pure: no node:* modules (do I/O in permute.ts).' },
            {
              regex: `^(\\.\\./)+(${higher(3).concat('node').join('|')})(/|\\.js$)`,
              message: `pure permutation modules import neither ${higher(3).join(', ')} nor the Node shells (node/).`,
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'the permutation engine does not read process.' }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'the core is pure: no node:* modules (do I/O in a shell layer).' },
            {
              regex: `^(\\.\\./)+(${higher(LAYERS.findIndex((l) => l.includes('core'))).join('|')})(/|\\.js$)`,
              message: 'the core sits below pipeline and cli: import downward only.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'the core does not read process.' }],
      'no-console': 'error',
    },
  },
);
