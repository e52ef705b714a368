import { readFileSync } from 'node:fs';

/** vbm's version, read from package.json so there is one record of it (dist/src/node/ or src/node/ -> the repository root). */
export const VBM_VERSION: string = (() => {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'vbm' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
})();
