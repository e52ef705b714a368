/** vbm report: one self-contained HTML report of an analysis folder. */
import { progressReporter } from '../progress.js';
import { openAtlas } from '../../pipeline/label.js';
import { type Options, parseList, reqNum, reqStr, str } from '../options.js';
import { runReport } from '../../pipeline/report.js';
import { parseDisplay, parseThreshold, pictureOptions } from '../pictureOptions.js';
import type { Command } from 'commander';

export function reportCommand(program: Command): void {
  pictureOptions(
    program
      .command('report')
      .description(
        'write one self-contained HTML report of an analysis folder: design, contrasts, maps, tables, viewer',
      )
      .argument('<dir>', 'analysis folder written by vbm run')
      .option('--contrast <which>', 'contrast numbers or names, comma-separated (default: all)')
      .option('--atlas <atlas>', 'label peaks and the viewer with this atlas (name or path)')
      .option('--labels <file>', 'label table for --atlas')
      .option('--display <d>', "slices: 'z', 'y', 'x' or 'ortho'", 'z')
      .option('--cuts <n>', 'slices: number of cuts', '8')
      .option('--no-viewer', 'leave out the interactive viewer (a smaller file)')
      .option('-o, --out <file>', 'HTML file to write (default: report.html in the folder)')
      .option('-q, --quiet', 'no progress'),
  ).action(async (dir: string, o: Options) => {
    const display = parseDisplay(o);
    const progress = progressReporter(!o.quiet);
    const atlas = o.atlas ? openAtlas(reqStr(o, 'atlas'), str(o, 'labels')) : undefined;
    for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    const out = await runReport(dir, {
      contrasts: parseList(str(o, 'contrast')),
      ...parseThreshold(o),
      atlas,
      display,
      cuts: reqNum(o, 'cuts'),
      background: reqStr(o, 'background'),
      viewer: o.viewer !== false,
      out: str(o, 'out'),
      command: ['vbm', ...process.argv.slice(2)].join(' '),
      onProgress: (stage, d, t) => progress(stage, d, t),
    });
    process.stdout.write(`wrote ${out.file} (${(out.bytes / 1e6).toFixed(1)} MB)\n`);
  });
}
