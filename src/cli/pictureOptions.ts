/** The flags shared by the pictures of vbm plot and vbm report (declared in settings/vocabulary.ts). */
import type { Command } from 'commander';
import type { ThresholdRequest } from '../pipeline/plot.js';
import type { Display } from '../plot/statMap.js';
import type { Sign } from '../plot/colours.js';
import type { Correction } from '../inference/results.js';
import { PICTURE } from '../settings/vocabulary.js';
import type { Options } from './options.js';
import { addSettings, flagNumberOrDefault, flagText } from './settingOptions.js';

export function pictureOptions(cmd: Command): Command {
  return addSettings(cmd, [PICTURE.threshold, PICTURE.correction, PICTURE.extent, PICTURE.sign, PICTURE.background]);
}

export function parseDisplay(o: Options): Display {
  return flagText<Display>(o, PICTURE.display)!;
}

export function parseThreshold(o: Options): Omit<ThresholdRequest, 'sign'> & { sign?: Sign } {
  return {
    threshold: flagNumberOrDefault(o, PICTURE.threshold),
    correction: flagText<Correction>(o, PICTURE.correction)!,
    extent: flagNumberOrDefault(o, PICTURE.extent),
    sign: flagText<Sign>(o, PICTURE.sign),
  };
}
