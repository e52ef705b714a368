/**
 * The text of a contrasts file as contrast specs: apart from contrasts.ts, so that the YAML parser
 * loads only where a contrasts file is read (pipeline/contrastsFile.ts, the library's index).
 */
import YAML from 'yaml';
import { VbmError } from '../errors.js';
import { type ContrastSpec, validateContrastSpecs } from './contrasts.js';

/**
 * Parse the text of a contrasts file (YAML when `yaml`, else JSON): a list of ContrastSpec objects.
 * `where` names the file in messages. Reading the file is the shell's job (pipeline/contrastsFile.ts).
 */
export function parseContrastsText(text: string, where: string, yaml: boolean): ContrastSpec[] {
  let data: unknown;
  try {
    data = yaml ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw new VbmError(
      `${where}: cannot parse (${(e as Error).message})`,
      'the file must hold a list of {name, type, columns, weights}',
    );
  }
  return validateContrastSpecs(data, where);
}
