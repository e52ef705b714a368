/** vbm report: one self-contained HTML report of an analysis folder. */
import type { Command } from 'commander';
import { progressReporter } from '../progress.js';
import { openAtlas } from '../../pipeline/label.js';
import type { Options } from '../options.js';
import { runReport } from '../../pipeline/report.js';
import { parseDisplay, parseThreshold, pictureOptions } from '../pictureOptions.js';
import { ATLAS, PICTURE, REPORT, RUN } from '../../settings/vocabulary.js';
import {
  addSetting,
  addSettings,
  flagList,
  flagNumberOrDefault,
  flagSwitch,
  flagText,
  flagValue,
} from '../settingOptions.js';

export function reportCommand(program: Command): void {
  const cmd = program
    .command('report')
    .description('write one self-contained HTML report of an analysis folder: design, contrasts, maps, tables, viewer')
    .argument('<dir>', 'analysis folder written by vbm run');
  addSettings(cmd, [REPORT.contrast, REPORT.atlas, ATLAS.labels, PICTURE.display, REPORT.cuts, REPORT.viewer]);
  addSetting(cmd, REPORT.out, { default: false });
  addSetting(cmd, RUN.quiet, { help: 'no progress' });
  pictureOptions(cmd).action(async (dir: string, o: Options) => {
    const progress = progressReporter(!o.quiet);
    const atlasName = flagText(o, REPORT.atlas);
    const atlas = atlasName ? openAtlas(atlasName, flagText(o, ATLAS.labels)) : undefined;
    for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    const out = await runReport(dir, {
      contrasts: flagList(o, REPORT.contrast),
      ...parseThreshold(o),
      atlas,
      display: parseDisplay(o),
      cuts: flagNumberOrDefault(o, REPORT.cuts),
      background: flagText(o, PICTURE.background)!,
      viewer: flagSwitch(o, REPORT.viewer),
      out: flagValue(o, REPORT.out) as string | undefined,
      command: ['vbm', ...process.argv.slice(2)].join(' '),
      onProgress: (stage, d, t) => progress(stage, d, t),
    });
    process.stdout.write(`wrote ${out.file} (${(out.bytes / 1e6).toFixed(1)} MB)\n`);
  });
}
