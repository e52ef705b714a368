/** vbm plot: draw a contrast on slices, a glass brain or the design matrix. */
import type { Command } from 'commander';
import { progressReporter } from '../progress.js';
import { type Options, parseNumber } from '../options.js';
import { type PlotKind, runPlot } from '../../pipeline/plot.js';
import { parseDisplay, parseThreshold, pictureOptions } from '../pictureOptions.js';
import { PICTURE, PLOT, RUN } from '../../settings/vocabulary.js';
import { addSetting, addSettings, flagList, flagNumber, flagNumberOrDefault, flagText } from '../settingOptions.js';

export function plotCommand(program: Command): void {
  const cmd = program
    .command('plot')
    .description('draw a PNG: a contrast on slices over a background, a glass brain, or the design matrix')
    .argument('<dir>', 'analysis folder written by vbm run');
  addSettings(cmd, [
    PLOT.contrast,
    PLOT.kind,
    PICTURE.display,
    PLOT.cuts,
    PLOT.coords,
    PLOT.vmax,
    PLOT.title,
    PLOT.out,
  ]);
  addSetting(cmd, RUN.quiet, { help: 'no progress' });
  pictureOptions(cmd).action(async (dir: string, o: Options) => {
    const progress = progressReporter(!o.quiet);
    const out = await runPlot(dir, {
      kind: flagText<PlotKind>(o, PLOT.kind)!,
      contrast: flagText(o, PLOT.contrast),
      ...parseThreshold(o),
      display: parseDisplay(o),
      cuts: flagNumberOrDefault(o, PLOT.cuts),
      coords: flagList(o, PLOT.coords)?.map((c) => parseNumber('--coords', c)),
      background: flagText(o, PICTURE.background)!,
      vmax: flagNumber(o, PLOT.vmax),
      title: flagText(o, PLOT.title),
      out: flagText(o, PLOT.out),
      onProgress: (d, t) => progress('mean of the scans', d, t),
    });
    const what =
      out.shownVoxels === undefined
        ? ''
        : out.shownVoxels === 0
          ? ' (no voxel survives the thresholds)'
          : ` (${out.shownVoxels} voxels shown, ${out.caption})`;
    process.stdout.write(`wrote ${out.file}${what}\n`);
  });
}
