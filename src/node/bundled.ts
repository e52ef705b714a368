/**
 * The files of the bundled CLI. `npm run build` also bundles the CLI and the worker threads'
 * modules with esbuild (scripts/build-cli.mjs -> dist/cli/), so that a command loads a few files
 * instead of hundreds of modules. Inside that bundle this module is replaced by one that names the
 * bundle's own files; in the unbundled build (the library API, dist/src/) it names none and every
 * module runs from its own file.
 */
export interface BundleFiles {
  /** URL of the bundled CLI (what `vbm` runs; the local and Slurm backends' tasks run it too). */
  readonly cli: string;
  /** URL of the bundled entry of every worker thread (node/threadWorker.ts). */
  readonly threadWorker: string;
  /** Bundled work modules by the URL of the unbundled module they were made from. */
  readonly workModules: Readonly<Record<string, string>>;
}

/** The bundle's files, or undefined when running unbundled. */
export const BUNDLE: BundleFiles | undefined = undefined;

/** The module a worker thread loads for work module `url`: its bundled file if there is one. */
export function workModuleUrl(url: string, bundle: BundleFiles | undefined = BUNDLE): string {
  return (bundle && Object.hasOwn(bundle.workModules, url) ? bundle.workModules[url] : undefined) ?? url;
}
