/**
 * The permutation test's accelerations as written (accel.ts has what they do): their names and the
 * parser of `--accel` and an analysis file's `accel:`. Apart from accel.ts so that reading an analysis
 * file or a command's options does not load the distributions behind the tail fits (@stdlib).
 */
import { VbmError } from '../errors.js';

export type Accel = 'tail' | 'gamma' | 'stop';

export interface AccelOptions {
  tail?: boolean;
  gamma?: boolean;
  stop?: boolean;
  /** FWE level that the stopping rule protects (default 0.05). */
  alpha?: number;
  /** Stop only after this many rearrangements (default 100). */
  minPermutations?: number;
}

/** Parse 'tail', 'gamma', 'stop', 'tail,stop' or 'gamma,stop' (as written in `where`: an option or an analysis-file key). */
export function parseAccel(text: string, where: string): AccelOptions {
  const parts = text
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
  const out: AccelOptions = {};
  for (const x of parts) {
    if (x === 'tail') out.tail = true;
    else if (x === 'gamma') out.gamma = true;
    else if (x === 'stop') out.stop = true;
    else if (x !== 'none')
      throw new VbmError(
        `${where}: '${x}' is not an acceleration (use 'tail', 'gamma', 'stop', 'tail,stop', 'gamma,stop' or 'none')`,
        'e.g. --accel tail or, in an analysis file, accel: [tail, stop]',
      );
  }
  if (out.tail && out.gamma)
    throw new VbmError(
      `${where}: 'tail' and 'gamma' both approximate the FWE p-values: choose one`,
      'e.g. --accel tail,stop or --accel gamma,stop',
    );
  return out;
}
