/** The thresholding flags shared by vbm results, vbm label and vbm run --results (declared in settings/vocabulary.ts). */
import type { Command } from 'commander';
import type { ExtraMap, ResultsRequest } from '../pipeline/results.js';
import type { Correction } from '../inference/results.js';
import { RESULTS } from '../settings/vocabulary.js';
import type { Options } from './options.js';
import { addSetting, flagList, flagNumberOrDefault, flagText, type SettingUse } from './settingOptions.js';

/** The results settings, in the order `--help` lists them. */
const RESULTS_FLAGS = [
  RESULTS.threshold,
  RESULTS.correction,
  RESULTS.extent,
  RESULTS.peaks,
  RESULTS.peakDistance,
  RESULTS.maps,
];

export function resultsOptions(cmd: Command, use: SettingUse = {}): Command {
  for (const s of RESULTS_FLAGS) addSetting(cmd, s, use);
  return cmd;
}

export function parseCorrection(o: Options): Correction {
  return flagText<Correction>(o, RESULTS.correction)!;
}

export function parseResultsOptions(o: Options): Omit<ResultsRequest, 'contrast'> {
  return {
    threshold: flagNumberOrDefault(o, RESULTS.threshold),
    correction: parseCorrection(o),
    extent: flagNumberOrDefault(o, RESULTS.extent),
    peaks: flagNumberOrDefault(o, RESULTS.peaks),
    peakDistance: flagNumberOrDefault(o, RESULTS.peakDistance),
    maps: flagList<ExtraMap>(o, RESULTS.maps) ?? [],
  };
}
