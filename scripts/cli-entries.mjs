// The bundled CLI's entries (scripts/build-cli.mjs): output name in dist/cli/ -> module in dist/src/.
// test/bundle.test.ts checks that WORK_MODULES names every module that exports a worker's `work`.

/** The command and the entry of every worker thread. */
export const CLI_ENTRIES = { vbm: 'cli/main.js', 'thread-worker': 'node/threadWorker.js' };

/** The work modules worker threads load (node/threadPool.ts runs these bundled files in their place). */
export const WORK_MODULES = {
  'fit-chunk-work': 'estimation/fitChunkWorker.js',
  'block-work': 'permutation/blockWork.js',
  'block-work-native': 'permutation/blockWorkNative.js',
  'stream-work': 'permutation/streamWork.js',
  'smoothness-work': 'estimation/smoothnessWork.js',
};
