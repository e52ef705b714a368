/**
 * Every user setting of vbm, declared once: its command-line flag, its analysis-file key, its
 * type, default, allowed values and one line of help. The CLI builds its options and `--help`
 * from these (cli/settingOptions.ts), the analysis-file parser validates through them
 * (pipeline/analysisFile.ts), and library functions take their defaults from them.
 *
 * To add a setting: declare it here in its section, add it to its command in
 * src/cli/commands/<command>.ts with `addSetting`, read it in pipeline/analysisFile.ts with the
 * readers of settings/setting.ts if files may set it, and pass it to the library.
 */
import type { Setting } from './setting.js';

const declare = <T extends Record<string, Setting>>(settings: T): Readonly<T> => Object.freeze(settings);

/** The maps `results.maps` / `--maps` can ask for. */
export const EXTRA_MAP_NAMES = ['p', 'logp', 'z', 'd', 'r', 'R2'] as const;

/** vbm run and the top level of an analysis file: data, mask, design, and what runs after the fit. */
export const RUN = declare({
  out: {
    flag: '-o, --out <dir>',
    key: 'out',
    kind: 'text',
    help: 'output folder (required with a spreadsheet; overrides the analysis file)',
  },
  mask: {
    flag: '-m, --mask <image>',
    key: 'mask',
    kind: 'text',
    help: 'explicit mask (voxels > 0 are analysed; resampled by nearest neighbour in mm)',
  },
  implicitMask: {
    flag: '--no-implicit-mask',
    key: 'implicit_mask',
    kind: 'switch',
    default: true,
    help: "turn off SPM's implicit mask (zero = missing for integer scans)",
  },
  absoluteThreshold: {
    flag: '--absolute-threshold <value>',
    key: 'threshold_masking.absolute',
    kind: 'number',
    help: 'threshold masking: analyse voxels whose value exceeds this in every scan',
  },
  relativeThreshold: {
    flag: '--relative-threshold <fraction>',
    key: 'threshold_masking.relative',
    kind: 'number',
    above: 0,
    help: "threshold masking: ... exceeds this fraction of each scan's global mean",
  },
  contrasts: {
    flag: '-c, --contrasts <file>',
    kind: 'text',
    help: 'contrasts file (.json or .yaml): [{name, type, columns, weights}]',
  },
  contrast: {
    flag: '--contrast <spec...>',
    kind: 'text',
    help: "inline contrast(s) '[NAME:]T|F:COL[=W][,COL[=W]]', e.g. 'age+:T:age=1' 'F:age,sex'",
  },
  covariates: {
    flag: '--covariates <columns>',
    key: 'covariates',
    kind: 'list',
    help: 'comma-separated covariate columns (default: every column after the first)',
  },
  centring: {
    flag: '--centring <spec>',
    key: 'centring',
    kind: 'text',
    help: "'mean' (default) or 'none' for all, or per column: 'age=mean,tiv=none'",
  },
  intercept: {
    flag: '--no-intercept',
    key: 'intercept',
    kind: 'switch',
    default: true,
    help: 'leave out the constant column',
  },
  overwrite: {
    flag: '--overwrite',
    kind: 'switch',
    help: 'replace an output folder that holds an analysis of other scans or another design',
  },
  force: { flag: '--force', kind: 'switch', help: 're-run every stage, cached or not' },
  from: { flag: '--from <stage>', kind: 'text', help: 're-run this stage and the ones after it' },
  workers: {
    flag: '--workers <n>',
    key: 'workers',
    kind: 'integer',
    min: 0,
    help: 'worker threads (default: number of cores)',
  },
  memory: {
    flag: '--memory <size>',
    key: 'memory',
    kind: 'bytes',
    help: "memory for the permutation data, e.g. 8G or 512M (default: half the machine's, or the Slurm task's); larger data are streamed from a scratch file in the analysis folder, with the same results",
  },
  quiet: { flag: '-q, --quiet', kind: 'switch', help: 'no progress or log lines' },
  results: {
    flag: '--results',
    key: 'results',
    kind: 'switch',
    help: 'after estimation, run `vbm results` for every contrast with the options below',
  },
  report: {
    flag: '--report',
    key: 'report',
    kind: 'switch',
    help: 'write report.html (the thresholds of --results; vbm report has all options)',
  },
  check: {
    flag: '--check',
    key: 'check',
    kind: 'switch',
    help: 'before estimation, check sample homogeneity (check.csv, check.png; see vbm check)',
  },
});

/** The design: model type, factors, globals (vbm run flags; top-level keys of an analysis file). */
export const DESIGN = declare({
  model: {
    flag: '--model <kind>',
    key: 'model',
    kind: 'text',
    help: 'multiple-regression (default), one-sample, two-sample, paired or anova (one factor)',
  },
  factor: {
    flag: '--factor <column>',
    key: 'factor',
    kind: 'text',
    help: 'two-sample, anova: the column of group labels',
  },
  levels: {
    flag: '--levels <list>',
    key: 'levels',
    kind: 'list',
    help: 'order of the levels of --factor (paired: of --condition), e.g. CN,AD',
  },
  subject: {
    flag: '--subject <column>',
    key: 'subject',
    kind: 'text',
    help: 'paired: the column naming the subject of each scan',
  },
  condition: {
    flag: '--condition <column>',
    key: 'condition',
    kind: 'text',
    help: 'paired: the column naming the condition (two levels)',
  },
  variance: {
    flag: '--variance <v>',
    key: 'variance',
    kind: 'choice',
    choices: ['unequal', 'equal'],
    help: "two-sample, anova: 'unequal' (default, as SPM) or 'equal'",
  },
  factors: {
    flag: '--factors <columns>',
    key: 'factors',
    kind: 'list',
    help: 'columns to treat as factors even if they hold numbers',
  },
  interaction: {
    flag: '--interaction <cov:factor...>',
    key: 'interactions',
    kind: 'text',
    help: 'covariate-by-factor interaction(s), e.g. tiv:group',
  },
  globals: {
    flag: '--globals <spec>',
    key: 'globals.calculation',
    kind: 'text',
    help: "global values: 'user:COLUMN' (e.g. user:tiv), 'mean' (SPM's spm_global) or 'omit'",
  },
  grandMeanScaling: {
    flag: '--grand-mean-scaling <value>',
    key: 'globals.grand_mean_scaling',
    kind: 'text',
    help: "grand mean scaling to this value (e.g. 50), or 'no'",
  },
  normalisation: {
    flag: '--normalisation <kind>',
    key: 'globals.normalisation',
    kind: 'choice',
    choices: ['none', 'proportional', 'ancova'],
    help: "global normalisation: 'none', 'proportional' or 'ancova'",
  },
});

/** Thresholds of a results table (vbm results, vbm label, vbm run --results; `results:` in a file). */
export const RESULTS = declare({
  contrast: { flag: '--contrast <which>', kind: 'text', help: 'contrast number or name (default: all)' },
  threshold: {
    flag: '--threshold <p>',
    key: 'results.threshold',
    kind: 'number',
    default: 0.001,
    above: 0,
    help: 'height threshold: a p-value, or (uncorrected) a statistic value > 1',
  },
  correction: {
    flag: '--correction <kind>',
    key: 'results.correction',
    kind: 'choice',
    choices: ['none', 'fwe', 'fdr'],
    default: 'none',
    help: "height correction: 'none', 'fwe' (random field) or 'fdr' (voxel-wise)",
  },
  extent: {
    flag: '--extent <k>',
    key: 'results.extent',
    kind: 'number',
    default: 0,
    min: 0,
    help: 'extent threshold in voxels',
  },
  peaks: {
    flag: '--peaks <n>',
    key: 'results.peaks',
    kind: 'integer',
    default: 3,
    min: 1,
    help: 'local maxima listed per cluster',
  },
  peakDistance: {
    flag: '--peak-distance <mm>',
    key: 'results.peak_distance',
    kind: 'number',
    default: 8,
    min: 0,
    help: 'minimum distance between listed maxima of a cluster',
  },
  maps: {
    flag: '--maps <list>',
    key: 'results.maps',
    kind: 'list',
    choices: EXTRA_MAP_NAMES,
    help: "also write maps: any of 'p', 'logp' (signed -log10 p), 'z', and effect sizes 'd' (two-group T), 'r' (T), 'R2' (F), comma-separated",
  },
});

/** Atlas labelling (vbm label, the atlas of vbm results/report/run; `atlas:` in a file). */
export const ATLAS = declare({
  atlas: {
    flag: '--atlas <atlas>',
    key: 'atlas.name',
    kind: 'text',
    help: 'atlas name (see vbm atlases: aal, brodmann, harvardoxford, jhu, aicha) or image path',
  },
  labels: {
    flag: '--labels <file>',
    key: 'atlas.labels',
    kind: 'text',
    help: 'label table for the atlas (index,name CSV/TSV, mricron .txt or FSL XML)',
  },
  modes: {
    flag: '--mode <modes>',
    key: 'atlas.modes',
    kind: 'list',
    choices: ['peaks', 'extended', 'clusters', 'all'],
    default: 'all',
    help: "comma-separated: 'peaks', 'extended', 'clusters', or 'all'",
  },
  radius: {
    flag: '--radius <mm>',
    key: 'atlas.radius',
    kind: 'number',
    default: 5,
    min: 0,
    help: 'sphere radius for extended labelling',
  },
  probThreshold: {
    flag: '--prob-threshold <percent>',
    kind: 'number',
    min: 0,
    max: 100,
    help: 'probabilistic atlases: minimum probability for a region (default 0: maximum probability)',
  },
});

/** Permutation inference (vbm permute, vbm run --permutations; `permute:` in a file). */
export const PERMUTE = declare({
  contrast: { flag: '--contrast <which>', key: 'permute.contrasts', kind: 'text', help: 'contrast number or name' },
  permutations: {
    flag: '--permutations <n>',
    key: 'permute.permutations',
    kind: 'integer',
    default: 5000,
    min: 1,
    help: 'number of permutations, the observed included (all are enumerated when fewer exist)',
  },
  seed: {
    flag: '--seed <n>',
    key: 'permute.seed',
    kind: 'number',
    default: 0,
    help: 'random seed (the same seed gives the same permutations)',
  },
  tfce: {
    flag: '--tfce',
    key: 'permute.tfce',
    kind: 'switch',
    default: false,
    help: 'threshold-free cluster enhancement (exact integral) with FWE p-values',
  },
  tfceE: {
    flag: '--tfce-e <E>',
    key: 'permute.tfce_e',
    kind: 'number',
    default: 0.5,
    above: 0,
    help: 'TFCE extent exponent',
  },
  tfceH: {
    flag: '--tfce-h <H>',
    key: 'permute.tfce_h',
    kind: 'number',
    default: 2,
    above: 0,
    help: 'TFCE height exponent',
  },
  connectivity: {
    flag: '--connectivity <c>',
    key: 'permute.connectivity',
    kind: 'choice',
    choices: ['6', '18', '26'],
    default: '26',
    help: 'neighbours for clusters and TFCE: 6, 18 or 26 (FSL default)',
  },
  clusterThreshold: {
    flag: '--cluster-threshold <p>',
    key: 'permute.cluster_threshold',
    kind: 'number',
    above: 0,
    below: 1,
    help: 'cluster-forming threshold (uncorrected p) for cluster-extent and cluster-mass FWE',
  },
  scheme: {
    flag: '--scheme <s>',
    key: 'permute.scheme',
    kind: 'choice',
    choices: ['auto', 'permute', 'signflip'],
    default: 'auto',
    help: "'auto' (permute; sign-flip one-sample effects and designs with variance groups), 'permute' or 'signflip'",
  },
  blocks: {
    flag: '--blocks <file>',
    key: 'permute.blocks',
    kind: 'text',
    help: 'exchangeability blocks: a text file with one integer per scan, in design order (in an analysis file: relative to it)',
  },
  alpha: {
    flag: '--alpha <a>',
    key: 'permute.alpha',
    kind: 'number',
    default: 0.05,
    above: 0,
    below: 1,
    help: 'FWE level for the table of significant clusters',
  },
  accel: {
    flag: '--accel <list>',
    key: 'permute.accel',
    kind: 'list',
    choices: ['tail', 'stop', 'gamma', 'none'],
    help: "faster p-values: 'tail' (generalised Pareto fit to the tail of the null maxima for FWE p), 'gamma' (gamma fit by moments to the null maxima for FWE p, as PALM); with either, uncorrected p from a per-voxel Pareto tail; 'stop' (stop once no peak can reach FWE significance), or 'tail,stop' / 'gamma,stop'",
  },
  workers: { flag: '--workers <n>', kind: 'integer', min: 0, help: 'worker threads (default: all cores)' },
  quiet: { flag: '-q, --quiet', kind: 'switch', help: 'no progress' },
});

/** The pictures of vbm plot and vbm report (`report:` in a file holds the report's). */
export const PICTURE = declare({
  threshold: {
    flag: '--threshold <t>',
    key: 'report.threshold',
    kind: 'number',
    default: 0.001,
    above: 0,
    help: 'height threshold: a p-value, or (uncorrected) a statistic value > 1, e.g. 3.10',
  },
  correction: {
    flag: '--correction <kind>',
    key: 'report.correction',
    kind: 'choice',
    choices: ['none', 'fwe', 'fdr'],
    default: 'none',
    help: "height correction: 'none', 'fwe' (random field) or 'fdr'",
  },
  extent: {
    flag: '--extent <k>',
    key: 'report.extent',
    kind: 'number',
    default: 0,
    min: 0,
    help: 'extent threshold in voxels',
  },
  sign: {
    flag: '--sign <s>',
    key: 'report.sign',
    kind: 'choice',
    choices: ['pos', 'neg', 'both'],
    help: "'pos' (positive values only), 'neg' or 'both' (default: both for T maps in vbm plot, as nilearn; pos in vbm report, as SPM's contrast view)",
  },
  background: {
    flag: '--background <bg>',
    key: 'report.background',
    kind: 'text',
    default: 'template',
    help: "'template' (ch2bet from Debian mricron-data when installed, else the ICBM152 grey-matter template vbm ships), 'icbm152', 'ch2bet', 'mean' (mean of the analysed scans), 'none', or an image path",
  },
  display: {
    flag: '--display <d>',
    key: 'report.display',
    kind: 'choice',
    choices: ['x', 'y', 'z', 'ortho'],
    default: 'z',
    help: "slices: 'z' (axial), 'y' (coronal), 'x' (sagittal) or 'ortho'",
  },
});

/** vbm plot. */
export const PLOT = declare({
  contrast: { flag: '--contrast <which>', kind: 'text', help: 'contrast number or name (slices and glass brain)' },
  kind: {
    flag: '--kind <kind>',
    kind: 'choice',
    choices: ['slices', 'glass', 'design'],
    default: 'slices',
    help: "'slices', 'glass' (maximum intensity projections) or 'design'",
  },
  cuts: { flag: '--cuts <n>', kind: 'integer', min: 1, default: 6, help: 'slices: number of cuts in a row' },
  coords: {
    flag: '--coords <mm>',
    kind: 'list',
    help: "slices: cut positions in mm, comma-separated (ortho: 'x,y,z'; default: through the clusters, strongest first, then filling the brain, at least one FWHM apart; ortho at the peak)",
  },
  vmax: { flag: '--vmax <v>', kind: 'number', help: 'top of the colour scale (default: the largest |value| shown)' },
  title: { flag: '--title <text>', kind: 'text', help: 'title (default: contrast and thresholds)' },
  out: {
    flag: '-o, --out <file>',
    kind: 'text',
    help: 'PNG to write (default: slices_000K.png, glass_000K.png or design.png in the folder)',
  },
});

/** vbm report (`report:` in a file; its thresholds, sign, display and background are in PICTURE). */
export const REPORT = declare({
  contrast: {
    flag: '--contrast <which>',
    kind: 'list',
    help: 'contrast numbers or names, comma-separated (default: all)',
  },
  atlas: {
    flag: '--atlas <atlas>',
    kind: 'text',
    help: 'label peaks and the viewer with this atlas (name or path)',
  },
  cuts: { flag: '--cuts <n>', key: 'report.cuts', kind: 'integer', min: 1, default: 8, help: 'slices: number of cuts' },
  viewer: {
    flag: '--no-viewer',
    key: 'report.viewer',
    kind: 'switch',
    default: true,
    help: 'leave out the interactive viewer (a smaller file)',
  },
  out: {
    flag: '-o, --out <file>',
    key: 'report.file',
    kind: 'text',
    default: 'report.html',
    help: 'HTML file to write (default: report.html in the folder)',
  },
});

/** Sample homogeneity (vbm check, vbm run --check; `check:` in a file). */
export const CHECK = declare({
  mask: {
    flag: '-m, --mask <image>',
    kind: 'text',
    help: 'explicit mask (voxels > 0; nearest neighbour in mm)',
  },
  globals: {
    flag: '--globals <column>',
    key: 'check.globals',
    kind: 'text',
    help: 'proportional scaling: divide each scan by this column (e.g. tiv), relative to its mean',
  },
  nuisance: {
    flag: '--nuisance <columns>',
    key: 'check.nuisance',
    kind: 'list',
    help: 'comma-separated columns regressed out voxel by voxel (e.g. age,sex)',
  },
  out: {
    flag: '-o, --out <dir>',
    kind: 'text',
    default: '.',
    help: 'folder for check.csv, check.png and check.json',
  },
});

/** Where the heavy work runs as tasks (`--backend ...` of vbm run and vbm permute; `backend:` in a file). */
export const BACKEND = declare({
  backend: {
    flag: '--backend <type>',
    key: 'backend.type',
    kind: 'choice',
    choices: ['local', 'slurm'],
    help: "run the work as tasks: 'local' (child processes) or 'slurm' (one sbatch job array); default: in this process",
  },
  jobs: {
    flag: '--jobs <n>',
    key: 'backend.jobs',
    kind: 'integer',
    default: 4,
    min: 1,
    max: 1000,
    help: 'number of tasks (with --backend)',
  },
  partition: { flag: '--partition <p>', key: 'backend.partition', kind: 'text', help: 'Slurm partition' },
  time: {
    flag: '--time <t>',
    key: 'backend.time',
    kind: 'text',
    help: 'Slurm time limit per task, e.g. 00:30:00',
  },
  mem: { flag: '--mem <m>', key: 'backend.mem', kind: 'text', help: 'Slurm memory per task, e.g. 8G' },
  account: { flag: '--account <a>', key: 'backend.account', kind: 'text', help: 'Slurm account' },
  sbatchArg: {
    flag: '--sbatch-arg <arg>',
    key: 'backend.sbatch_args',
    kind: 'text',
    help: 'another sbatch option, as one argument, e.g. --sbatch-arg=--qos=normal (repeatable)',
  },
  retries: {
    flag: '--retries <n>',
    key: 'backend.retries',
    kind: 'integer',
    default: 1,
    min: 0,
    help: 'times a failed task is submitted again',
  },
  wait: {
    flag: '--no-wait',
    key: 'backend.wait',
    kind: 'switch',
    default: true,
    help: 'return once the tasks are submitted (vbm show follows them; the same command again merges the results)',
  },
});

/** vbm init. */
export const INIT = declare({
  output: { flag: '-o, --output <file>', kind: 'text', help: 'write the file here instead of printing it' },
  outDir: {
    flag: '--out-dir <dir>',
    kind: 'text',
    default: 'results',
    help: "the analysis's output folder named in the file",
  },
});

/** vbm show. */
export const SHOW = declare({
  scans: { flag: '--scans', kind: 'switch', help: 'list every scan' },
  json: { flag: '--json', kind: 'switch', help: 'print the model record as JSON' },
});

/** vbm task (hidden: what each local process or Slurm array task runs). */
export const TASK = declare({
  workers: { flag: '--workers <n>', kind: 'integer', min: 0, default: 1, help: 'worker threads' },
});

/** Every section, for the README table and the tests. */
export const VOCABULARY = {
  RUN,
  DESIGN,
  RESULTS,
  ATLAS,
  PERMUTE,
  PICTURE,
  PLOT,
  REPORT,
  CHECK,
  BACKEND,
  INIT,
  SHOW,
  TASK,
};
