import { existsSync, readFileSync } from 'node:fs';
import { VbmError } from '../errors.js';
import type { ContrastSpec } from '../model/contrasts.js';
import { parseContrastsText } from '../model/contrastsText.js';

/** Read contrasts from a .json or .yaml/.yml file: a list of ContrastSpec objects. */
export function readContrastsFile(path: string): ContrastSpec[] {
  if (!existsSync(path)) throw new VbmError(`contrasts file not found: ${path}`);
  return parseContrastsText(readFileSync(path, 'utf8'), path, /\.ya?ml$/i.test(path));
}
