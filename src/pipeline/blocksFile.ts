/**
 * Exchangeability blocks from a text file (`--blocks FILE`, or `blocks:` under `permute:` in an
 * analysis file): one whole number per scan, in the design's order, separated by spaces, commas or
 * new lines.
 */
import { existsSync, readFileSync } from 'node:fs';
import { VbmError } from '../errors.js';
import { type Origin, settingName } from '../settings/setting.js';
import { PERMUTE } from '../settings/vocabulary.js';

/** Read a blocks file; errors name the file and the setting as the user wrote it (`origin`). */
export function readBlocksFile(file: string, origin: Origin): number[] {
  const name = settingName(PERMUTE.blocks, origin);
  if (!existsSync(file))
    throw new VbmError(`${name}: file not found: ${file}`, 'give a text file with one block number per scan');
  return readFileSync(file, 'utf8')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((x, i) => {
      const b = Number(x);
      if (!Number.isInteger(b))
        throw new VbmError(
          `${file}: entry ${i + 1} ('${x}') is not a whole number (${name})`,
          'one integer block number per scan',
        );
      return b;
    });
}
