/** The flags shared by the pictures of vbm plot and vbm report: thresholds, sign, background, display. */
import { Command } from 'commander';
import { VbmError } from '../errors.js';
import { parseCorrection } from './resultsOptions.js';
import { type Options, reqNum, reqStr, str } from './options.js';
import { type ThresholdRequest } from '../pipeline/plot.js';
import type { Display } from '../plot/statMap.js';
import type { Sign } from '../plot/colours.js';

export function pictureOptions(cmd: Command): Command {
  return cmd
    .option(
      '--threshold <t>',
      'height threshold: a p-value, or (uncorrected) a statistic value > 1, e.g. 3.10',
      '0.001',
    )
    .option('--correction <kind>', "height correction: 'none', 'fwe' (random field) or 'fdr'", 'none')
    .option('--extent <k>', 'extent threshold in voxels', '0')
    .option(
      '--sign <s>',
      "'pos' (positive values only), 'neg' or 'both' (default: both for T maps in vbm plot, as nilearn; pos in vbm report, as SPM's contrast view)",
    )
    .option(
      '--background <bg>',
      "'template' (ch2bet from Debian mricron-data when installed, else the ICBM152 grey-matter template vbm ships), 'icbm152', 'ch2bet', 'mean' (mean of the analysed scans), 'none', or an image path",
      'template',
    );
}

export function parseDisplay(o: Options): Display {
  const display = reqStr(o, 'display') as Display;
  if (!['x', 'y', 'z', 'ortho'].includes(display))
    throw new VbmError(`--display '${display}' is not one of x, y, z, ortho`);
  return display;
}

export function parseThreshold(o: Options): Omit<ThresholdRequest, 'sign'> & { sign?: Sign } {
  const correction = parseCorrection(o);
  const given = str(o, 'sign');
  const sign = given?.toLowerCase();
  if (sign !== undefined && !['pos', 'neg', 'both'].includes(sign))
    throw new VbmError(`--sign '${given}' is not one of pos, neg, both`);
  return {
    threshold: reqNum(o, 'threshold'),
    correction,
    extent: reqNum(o, 'extent'),
    sign: sign as Sign | undefined,
  };
}
