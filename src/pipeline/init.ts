/** `vbm init`: a commented analysis file for a spreadsheet, ready to edit. */
import { basename, dirname, relative, resolve } from 'node:path';
import { readTable } from '../io/spreadsheet.js';

export async function initAnalysisFile(designPath: string, outDir: string, filePath?: string): Promise<string> {
  const table = await readTable(designPath);
  const cols = table.header.slice(1);
  const base = filePath ? dirname(resolve(filePath)) : process.cwd();
  const design = relative(base, resolve(designPath)) || basename(designPath);
  const first = cols[0] ?? 'age';
  const q = (s: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : JSON.stringify(s));
  return `# vbm analysis file: \`vbm run ${filePath ? basename(filePath) : 'analysis.yaml'}\` runs it; running it again reuses
# every stage whose inputs did not change (scans, design, options, vbm version).
# Paths are relative to this file.

# The spreadsheet: first column = scan paths (.nii, .nii.gz, "file.nii,3" for a volume of a 4-D file),
# the other columns = numeric covariates (${table.rows.length} scans; columns: ${cols.join(', ')}).
design: ${JSON.stringify(design)}
out: ${JSON.stringify(outDir)}

# Covariates (default: every column after the first) and their centring: mean (default) or none.
covariates: [${cols.map(q).join(', ')}]
centring: mean            # or per column, e.g. {${q(first)}: mean, sex: none}
intercept: true

# Masking as SPM: an explicit mask image, the implicit mask (0 = no data for integer scans),
# and threshold masking ({absolute: 0.1} or {relative: 0.8}).
# mask: mask.nii.gz
implicit_mask: true
# threshold_masking: {absolute: 0.1}

# Contrasts: the seed study's (name, T|F, columns, weights). An F contrast over several columns
# tests them jointly. For several models over the same scans, replace this by
#   models:
#     - name: age_only
#       covariates: [${q(first)}]
#       contrasts: [...]
#     - name: full
#       covariates: [${cols.map(q).join(', ')}]
#       contrasts: [...]
contrasts:
  - {name: "Effect of ${first} (+)", type: T, columns: [${q(first)}], weights: [1]}
  - {name: "Effect of ${first} (-)", type: T, columns: [${q(first)}], weights: [-1]}
${cols.length > 1 ? `  - {name: "Effect of ${cols.slice(0, 2).join(' or ')}", type: F, columns: [${cols.slice(0, 2).map(q).join(', ')}]}\n` : ''}
# SPM's results table for every contrast: height threshold (p), correction none|fwe|fdr, extent (voxels).
results:
  threshold: 0.001
  correction: none
  extent: 10

# Atlas labels for peaks and clusters (vbm atlases lists the installed ones).
# atlas: {name: aal, modes: [peaks, extended, clusters], radius: 5}

# Permutation inference (Freedman-Lane; sign flips for one-sample effects).
# permute: {permutations: 5000, seed: 42, tfce: true, cluster_threshold: 0.001}

# An HTML report (design, maps, tables, viewer) at the results' thresholds; sign pos|neg|both,
# display z|y|x|ortho, background template|icbm152|ch2bet|mean|none|path.
report: {sign: pos, display: z, cuts: 8, background: template}
`;
}
