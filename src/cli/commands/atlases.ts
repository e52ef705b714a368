/** vbm atlases: list the atlases vbm finds. */
import { ATLAS_ALIASES, atlasDirs, listAtlases } from '../../atlas/registry.js';
import { formatTable } from '../../report/textTable.js';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';

export function atlasesCommand(program: Command): void {
  program
    .command('atlases')
    .description('list the atlases vbm finds (Debian mricron-data, $FSLDIR, $VBM_ATLAS_DIR)')
    .action(() => {
      const list = listAtlases();
      const dirs = atlasDirs().map((d) => `  ${d.dir} (${d.source})${existsSync(d.dir) ? '' : ' - not present'}`);
      if (list.length === 0) {
        process.stdout.write(
          `No atlases found. vbm looked in:\n${dirs.join('\n')}\nInstall Debian's with: sudo apt-get install mricron-data\n`,
        );
        return;
      }
      const aliases = new Map(Object.entries(ATLAS_ALIASES).map(([k, v]) => [v, k]));
      process.stdout.write(
        formatTable(
          ['name', 'alias', 'source', 'image', 'labels'],
          list.map((e) => [e.name, aliases.get(e.name) ?? '', e.source, e.image, e.labels ?? '(none)']),
        ) + `\n\nSearched:\n${dirs.join('\n')}\n`,
      );
    });
}
