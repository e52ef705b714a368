/** vbm init: write a commented analysis file for a spreadsheet. */
import { VbmError } from '../../errors.js';
import { existsSync, writeFileSync } from 'node:fs';
import { initAnalysisFile } from '../../pipeline/init.js';
import type { Command } from 'commander';

export function initCommand(program: Command): void {
  program
    .command('init')
    .description('write a commented analysis file (YAML) for a spreadsheet of scans and covariates')
    .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv)')
    .option('-o, --output <file>', 'write the file here instead of printing it')
    .option('--out-dir <dir>', "the analysis's output folder named in the file", 'results')
    .action(async (designPath: string, o: { output?: string; outDir: string }) => {
      const text = await initAnalysisFile(designPath, o.outDir, o.output);
      if (o.output) {
        if (existsSync(o.output)) throw new VbmError(`${o.output} exists`, 'choose another name, or delete it first');
        writeFileSync(o.output, text);
        process.stderr.write(`wrote ${o.output}; edit it, then: vbm run ${o.output}\n`);
      } else process.stdout.write(text);
    });
}
