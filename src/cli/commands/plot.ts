/** vbm plot: draw a contrast on slices, a glass brain or the design matrix. */
import { VbmError } from '../../errors.js';
import { progressReporter } from '../progress.js';
import { type Options, num, parseList, parseNumber, reqNum, reqStr, str } from '../options.js';
import { type PlotKind, runPlot } from '../../pipeline/plot.js';
import { parseDisplay, parseThreshold, pictureOptions } from '../pictureOptions.js';
import type { Command } from 'commander';

export function plotCommand(program: Command): void {
  pictureOptions(
    program
      .command('plot')
      .description('draw a PNG: a contrast on slices over a background, a glass brain, or the design matrix')
      .argument('<dir>', 'analysis folder written by vbm run')
      .option('--contrast <which>', 'contrast number or name (slices and glass brain)')
      .option('--kind <kind>', "'slices', 'glass' (maximum intensity projections) or 'design'", 'slices')
      .option('--display <d>', "slices: 'z' (axial), 'y' (coronal), 'x' (sagittal) or 'ortho'", 'z')
      .option('--cuts <n>', 'slices: number of cuts in a row', '6')
      .option(
        '--coords <mm>',
        "slices: cut positions in mm, comma-separated (ortho: 'x,y,z'; default: through the clusters, strongest first, then filling the brain, at least one FWHM apart; ortho at the peak)",
      )
      .option('--vmax <v>', 'top of the colour scale (default: the largest |value| shown)')
      .option('--title <text>', 'title (default: contrast and thresholds)')
      .option('-o, --out <file>', 'PNG to write (default: slices_000K.png, glass_000K.png or design.png in the folder)')
      .option('-q, --quiet', 'no progress'),
  ).action(async (dir: string, o: Options) => {
    const kind = reqStr(o, 'kind') as PlotKind;
    if (!['slices', 'glass', 'design'].includes(kind))
      throw new VbmError(`--kind '${kind}' is not one of slices, glass, design`);
    const display = parseDisplay(o);
    const coords = parseList(str(o, 'coords'))?.map((c) => parseNumber('--coords', c));
    const progress = progressReporter(!o.quiet);
    const out = await runPlot(dir, {
      kind,
      contrast: str(o, 'contrast'),
      ...parseThreshold(o),
      display,
      cuts: reqNum(o, 'cuts'),
      coords,
      background: reqStr(o, 'background'),
      vmax: num(o, 'vmax'),
      title: str(o, 'title'),
      out: str(o, 'out'),
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
