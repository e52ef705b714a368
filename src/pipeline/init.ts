/** `vbm init`: a commented analysis file for a spreadsheet, ready to edit. */
import { basename, dirname, relative, resolve } from 'node:path';
import { readTable } from '../node/spreadsheet.js';
import { columnKind } from '../model/factors.js';

export async function initAnalysisFile(designPath: string, outDir: string, filePath?: string): Promise<string> {
  const table = await readTable(designPath);
  const cols = table.header.slice(1);
  const base = filePath ? dirname(resolve(filePath)) : process.cwd();
  const design = relative(base, resolve(designPath)) || basename(designPath);
  const nums = cols.filter((c) => columnKind(table, c) === 'numeric');
  const first = nums[0] ?? cols[0] ?? 'age';
  const q = (s: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : JSON.stringify(s));
  // text columns are factors; one with a different value on every row names subjects, not groups
  const texts = cols.filter((c) => columnKind(table, c) === 'text');
  const distinct = (c: string): number => new Set(table.rows.map((r) => r[table.header.indexOf(c)])).size;
  const groups = texts.filter((c) => distinct(c) < table.rows.length);
  const ids = texts.filter((c) => !groups.includes(c));
  const factor = groups[0] ?? 'group';
  return `# vbm analysis file: \`vbm run ${filePath ? basename(filePath) : 'analysis.yaml'}\` runs it; running it again reuses
# every stage whose inputs did not change (scans, design, options, vbm version).
# Paths are relative to this file.

# The spreadsheet: first column = scan paths (.nii, .nii.gz, "file.nii,3" for a volume of a 4-D file),
# the other columns = numeric covariates (${table.rows.length} scans; columns: ${cols.join(', ')}).
design: ${JSON.stringify(design)}
out: ${JSON.stringify(outDir)}

# Covariates (default: every column after the first) and their centring: mean (default) or none.
covariates: [${cols
    .filter((c) => !ids.includes(c))
    .map(q)
    .join(', ')}]
centring: mean            # or per column, e.g. {${q(first)}: mean, sex: none}
intercept: true

# The model (default multiple_regression; a text column in covariates is coded 0/1 against its
# first level). Text columns are factors${texts.length ? ` (here: ${texts.join(', ')})` : ''}. See README "Designs".
# model: two_sample        # one_sample | two_sample | paired (subject:, condition:) | anova
# factor: ${q(factor)}
# levels: [...]            # optional order of the factor's levels
# variance: unequal        # as SPM; equal for OLS
# interactions: {${q(first)}: ${q(factor)}}
# globals: {calculation: user, values: tiv, grand_mean_scaling: 50, normalisation: proportional}

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
#       covariates: [${cols
    .filter((c) => !ids.includes(c))
    .map(q)
    .join(', ')}]
#       contrasts: [...]
contrasts:
  - {name: "Effect of ${first} (+)", type: T, columns: [${q(first)}], weights: [1]}
  - {name: "Effect of ${first} (-)", type: T, columns: [${q(first)}], weights: [-1]}
${nums.length > 1 ? `  - {name: "Effect of ${nums.slice(0, 2).join(' or ')}", type: F, columns: [${nums.slice(0, 2).map(q).join(', ')}]}\n` : ''}
# Sample homogeneity before estimation (CAT12's check): outlying scans flagged in check.csv/.png.
# globals: a column for proportional scaling (e.g. tiv); nuisance: columns regressed out.
# check: {globals: tiv, nuisance: [age]}

# SPM's results table for every contrast: height threshold (p), correction none|fwe|fdr, extent (voxels).
# maps: [p, logp, z, d, r, R2] adds p, signed -log10 p, Z and effect-size maps.
results:
  threshold: 0.001
  correction: none
  extent: 10

# Atlas labels for peaks and clusters (vbm atlases lists the installed ones).
# atlas: {name: aal, modes: [peaks, extended, clusters], radius: 5}

# Permutation inference (Freedman-Lane; sign flips for one-sample effects).
# permute: {permutations: 5000, seed: 42, tfce: true, cluster_threshold: 0.001}
# also: scheme auto|permute|signflip, blocks (a file: one block number per scan), alpha (0.05),
# tfce_e and tfce_h (0.5, 2), connectivity 6|18|26, accel [tail, stop]

# An HTML report (design, maps, tables, viewer) at the results' thresholds; sign pos|neg|both,
# display z|y|x|ortho, background template|icbm152|ch2bet|mean|none|path.
report: {sign: pos, display: z, cuts: 8, background: template}
`;
}
