/**
 * Reading an analysis file (YAML or JSON) into the spec analysisFile.ts validates: apart, so that
 * the YAML parser (a quarter of what `vbm run` would load) loads only for an analysis file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VbmError } from '../errors.js';
import { type AnalysisSpec, parseAnalysisSpec } from './analysisFile.js';

/** Read and validate an analysis file (YAML or JSON); errors name the file and the key. */
export function readAnalysisFile(path: string): AnalysisSpec {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new VbmError(`analysis file not found: ${abs}`);
  let raw: unknown;
  try {
    const text = readFileSync(abs, 'utf8');
    raw = /\.json$/i.test(abs) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new VbmError(
      `${abs}: cannot parse (${(e as Error).message})`,
      'check the YAML/JSON syntax; `vbm init design.csv` writes a commented example',
    );
  }
  const spec = parseAnalysisSpec(raw, dirname(abs), abs);
  spec.source = abs;
  return spec;
}
