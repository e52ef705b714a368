/** vbm init: write a commented analysis file for a spreadsheet. */
import { VbmError } from '../../errors.js';
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../../node/atomic.js';
import { initAnalysisFile } from '../../pipeline/init.js';
import type { Command } from 'commander';
import { INIT } from '../../settings/vocabulary.js';
import { addSettings } from '../settingOptions.js';

export function initCommand(program: Command): void {
  const cmd = program
    .command('init')
    .description('write a commented analysis file (YAML) for a spreadsheet of scans and covariates')
    .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv)');
  addSettings(cmd, [INIT.output, INIT.outDir]).action(
    async (designPath: string, o: { output?: string; outDir: string }) => {
      const text = await initAnalysisFile(designPath, o.outDir, o.output);
      if (o.output) {
        if (existsSync(o.output)) throw new VbmError(`${o.output} exists`, 'choose another name, or delete it first');
        writeFileAtomic(o.output, text);
        process.stderr.write(`wrote ${o.output}; edit it, then: vbm run ${o.output}\n`);
      } else process.stdout.write(text);
    },
  );
}
