/** The thresholding flags shared by vbm results, vbm label and vbm run --results. */
import { Command } from 'commander';
import { VbmError } from '../errors.js';
import { EXTRA_MAPS, type ExtraMap, type ResultsRequest } from '../pipeline/results.js';
import type { Correction } from '../inference/results.js';
import { type Options, parseList, reqNum, reqStr, str } from './options.js';

export function resultsOptions(cmd: Command): Command {
  return cmd
    .option('--threshold <p>', 'height threshold: a p-value, or (uncorrected) a statistic value > 1', '0.001')
    .option('--correction <kind>', "height correction: 'none', 'fwe' (random field) or 'fdr' (voxel-wise)", 'none')
    .option('--extent <k>', 'extent threshold in voxels', '0')
    .option('--peaks <n>', 'local maxima listed per cluster', '3')
    .option('--peak-distance <mm>', 'minimum distance between listed maxima of a cluster', '8')
    .option(
      '--maps <list>',
      "also write maps: any of 'p', 'logp' (signed -log10 p), 'z', and effect sizes 'd' (two-group T), 'r' (T), 'R2' (F), comma-separated",
    );
}

export function parseCorrection(o: Options): Correction {
  const given = reqStr(o, 'correction');
  const correction = given.toLowerCase();
  if (!['none', 'fwe', 'fdr'].includes(correction))
    throw new VbmError(`--correction '${given}' is not one of none, fwe, fdr`);
  return correction as Correction;
}

export function parseResultsOptions(o: Options): Omit<ResultsRequest, 'contrast'> {
  const correction = parseCorrection(o);
  const maps = parseList(str(o, 'maps')) ?? [];
  for (const m of maps)
    if (!(EXTRA_MAPS as string[]).includes(m))
      throw new VbmError(`--maps: '${m}' is not one of ${EXTRA_MAPS.join(', ')}`);
  return {
    threshold: reqNum(o, 'threshold'),
    correction,
    extent: reqNum(o, 'extent'),
    peaksPerCluster: reqNum(o, 'peaks'),
    peakDistanceMm: reqNum(o, 'peakDistance'),
    maps: maps as ExtraMap[],
  };
}
