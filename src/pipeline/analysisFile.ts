/**
 * The analysis file (YAML or JSON): one description of a study, from the spreadsheet to the
 * permutation settings, validated with messages that name the key. The command line builds the
 * same object, so everything said in one can be said in the other.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VbmError } from '../errors.js';
import { type BackendSettings, backendFromFile } from './backendSettings.js';
import type { Centring } from '../model/designMatrix.js';
import { type ContrastSpec, validateContrastSpecs } from '../model/contrasts.js';
import type { Correction } from '../inference/results.js';
import type { ExtraMap } from './results.js';
import type { LabelMode } from '../atlas/label.js';
import { DESIGN_KEYS, type DesignSpec, parseDesignKeys } from './designSpec.js';
import { type AccelOptions, parseAccel } from '../permutation/accelOptions.js';
import { readBlocksFile } from './blocksFile.js';
import {
  listSetting,
  numberOrDefault,
  numberSetting,
  type Origin,
  readSetting,
  type Setting,
  settingName,
  switchSetting,
  textSetting,
} from '../settings/setting.js';
import { ATLAS, CHECK, PERMUTE, PICTURE, REPORT, RESULTS, RUN } from '../settings/vocabulary.js';

export interface ModelSpec {
  name: string;
  covariates?: string[];
  contrasts: ContrastSpec[];
}

export interface ResultsSpec {
  threshold: number;
  correction: Correction;
  extent: number;
  peaks: number;
  peakDistance: number;
  maps: ExtraMap[];
}

export interface AtlasSpec {
  name: string;
  labels?: string;
  modes: LabelMode[];
  radius: number;
}

export interface PermuteSpec {
  /** Contrast numbers or names (default: all). */
  contrasts?: (number | string)[];
  permutations: number;
  seed: number;
  tfce: boolean;
  clusterThreshold?: number;
  connectivity: 6 | 18 | 26;
  /** Faster p-values: tail approximation and/or sequential stopping. */
  accel?: AccelOptions;
  /** 'auto', 'permute' or 'signflip' (`scheme:`; absent: auto). */
  scheme?: 'auto' | 'permute' | 'signflip';
  /** Exchangeability block of each scan, read from the file `blocks:` names (relative to the analysis file). */
  blocks?: number[];
  /** FWE level of the table of significant clusters (`alpha:`; absent: 0.05). */
  alpha?: number;
  /** TFCE's exponents (`tfce_e:`, `tfce_h:`; absent: E 0.5, H 2 as FSL). */
  tfceParams?: { E: number; H: number };
}

export interface ReportSpec {
  /** Map thresholds; default: those of `results`, else p < 0.001 uncorrected. */
  threshold: number;
  correction: Correction;
  extent: number;
  sign: 'pos' | 'neg' | 'both';
  display: 'x' | 'y' | 'z' | 'ortho';
  cuts: number;
  /** 'mean', 'none', 'ch2bet' or a path (absolute). */
  background: string;
  viewer: boolean;
  /** The HTML file, relative to the model's folder. */
  file: string;
}

/** Sample homogeneity before estimation (vbm check). */
export interface CheckSpec {
  globals?: string;
  nuisance: string[];
}

/** One study as an analysis file (or `vbm run` flags) describes it: spreadsheet, output folder, design, models and contrasts, and the stages after the fit. */
export interface AnalysisSpec {
  /** The file this came from (absolute), if any. */
  source?: string;
  /** Spreadsheet (absolute path). */
  design: string;
  /** Output folder (absolute). With several models, each gets a subfolder named after it. */
  out: string;
  covariates?: string[];
  centring?: { default?: Centring; perColumn: Record<string, Centring> };
  intercept: boolean;
  mask?: string;
  implicitMask: boolean;
  threshold?: { absolute?: number; relative?: number };
  models: ModelSpec[];
  /** Whether `models` was given (subfolders) or the single model is the top level. */
  multiModel: boolean;
  results?: ResultsSpec;
  atlas?: AtlasSpec;
  permute?: PermuteSpec;
  report?: ReportSpec;
  check?: CheckSpec;
  workers?: number;
  /** Memory budget of the permutation data in bytes (`memory: 8G`); larger data are streamed from a scratch file. */
  memory?: number;
  /** model, factor, levels, subject, condition, variance, factors, interactions, globals. */
  designOptions?: DesignSpec;
  /** Where permutations run as tasks (`backend:`); absent: in the process. */
  backend?: BackendSettings;
  /** Where these settings were written (flags or an analysis file), so that later errors name them as the user did. */
  origin?: Origin;
}

const TOP_KEYS = [
  'design',
  'out',
  'covariates',
  'centring',
  'intercept',
  'mask',
  'implicit_mask',
  'threshold_masking',
  'contrasts',
  'models',
  'results',
  'atlas',
  'permute',
  'report',
  'check',
  'workers',
  'backend',
  'memory',
  ...DESIGN_KEYS,
];

type Obj = Record<string, unknown>;

function fail(where: string, what: string, hint?: string): never {
  throw new VbmError(`${where}: ${what}`, hint);
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkKeys(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) fail(where, `unknown key '${k}'`, `allowed keys: ${allowed.join(', ')}`);
}

/** The keys a section of the file allows: those its settings declare (`results.peaks` -> `peaks`). */
function keysOf(section: string, ...settings: Readonly<Record<string, Setting>>[]): string[] {
  const prefix = `${section}.`;
  return settings
    .flatMap((group) => Object.values(group))
    .map((s) => s.key)
    .filter((k): k is string => k !== undefined && k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
}

/** The results thresholds (`results:`; also the defaults an atlas alone implies). */
function resultsOf(r: Obj, origin: Origin): ResultsSpec {
  return {
    threshold: numberOrDefault(RESULTS.threshold, r.threshold, origin),
    correction: textSetting<Correction>(RESULTS.correction, r.correction, origin)!,
    extent: numberOrDefault(RESULTS.extent, r.extent, origin),
    peaks: numberOrDefault(RESULTS.peaks, r.peaks, origin),
    peakDistance: numberOrDefault(RESULTS.peakDistance, r.peak_distance, origin),
    maps: listSetting<ExtraMap>(RESULTS.maps, r.maps, origin) ?? [],
  };
}

function strList(v: unknown, where: string): string[] {
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    fail(where, `expected a list of column names (got ${JSON.stringify(v)})`);
  return v as string[];
}

function centringOf(v: unknown, where: string): AnalysisSpec['centring'] {
  if (v === undefined) return undefined;
  const check = (c: unknown, w: string): Centring => {
    if (c !== 'mean' && c !== 'none' && c !== 'factor')
      fail(w, `centring must be 'mean', 'factor' (within the factor's levels) or 'none' (got ${JSON.stringify(c)})`);
    return c;
  };
  if (typeof v === 'string') return { default: check(v, where), perColumn: {} };
  if (!isObj(v)) fail(where, "centring must be 'mean', 'none', or a map of column: mean|factor|none");
  const perColumn: Record<string, Centring> = {};
  let def: Centring | undefined;
  for (const [k, c] of Object.entries(v)) {
    if (k === 'default') def = check(c, `${where}.default`);
    else perColumn[k] = check(c, `${where}.${k}`);
  }
  return { default: def, perColumn };
}

/**
 * Validate an analysis file's settings (or the same object built from `vbm run` flags) into an
 * AnalysisSpec. `where` names the file in messages; `origin` says how to name a setting: the
 * file's keys (the default) or, for `'cli'`, the flags.
 */
export function parseAnalysisSpec(
  raw: unknown,
  baseDir: string,
  where: string,
  origin: Origin = { file: where },
): AnalysisSpec {
  if (!isObj(raw)) fail(where, 'expected a mapping of settings (design:, out:, contrasts: ...)');
  checkKeys(raw, TOP_KEYS, where);
  if (typeof raw.design !== 'string') fail(where, "'design' (the spreadsheet of scans and covariates) is required");
  const rel = (p: string): string => resolve(baseDir, p);
  const design = rel(raw.design);
  if (!existsSync(design)) fail(`${where}: design`, `the spreadsheet ${design} does not exist`);
  if (typeof raw.out !== 'string') fail(where, "'out' (the output folder) is required");
  const spec: AnalysisSpec = {
    design,
    out: rel(raw.out),
    intercept: switchSetting(RUN.intercept, raw.intercept, origin),
    implicitMask: switchSetting(RUN.implicitMask, raw.implicit_mask, origin),
    models: [],
    multiModel: false,
    origin,
  };
  if (raw.covariates !== undefined) spec.covariates = strList(raw.covariates, `${where}: covariates`);
  spec.designOptions = parseDesignKeys(raw, where, origin);
  spec.centring = centringOf(raw.centring, `${where}: centring`);
  if (raw.mask !== undefined) {
    if (typeof raw.mask !== 'string') fail(where, "'mask' must be an image path");
    spec.mask = rel(raw.mask);
  }
  if (raw.threshold_masking !== undefined) {
    const t = raw.threshold_masking;
    if (!isObj(t)) fail(`${where}: threshold_masking`, 'expected {absolute: value} or {relative: fraction}');
    checkKeys(t, ['absolute', 'relative'], `${where}: threshold_masking`);
    if (t.absolute !== undefined && t.relative !== undefined)
      throw new VbmError(
        origin === 'cli'
          ? 'give --absolute-threshold or --relative-threshold, not both'
          : `${where}: threshold_masking: give absolute or relative, not both`,
      );
    spec.threshold = {
      absolute: numberSetting(RUN.absoluteThreshold, t.absolute, origin),
      relative: numberSetting(RUN.relativeThreshold, t.relative, origin),
    };
  }
  if (raw.workers !== undefined) spec.workers = numberSetting(RUN.workers, raw.workers, origin);
  if (raw.memory !== undefined) spec.memory = readSetting(RUN.memory, raw.memory, origin) as number;
  if (raw.backend !== undefined) spec.backend = backendFromFile(raw.backend, where);
  if (raw.models !== undefined) {
    if (raw.contrasts !== undefined) fail(where, "give 'contrasts' inside each model when 'models' is used");
    if (!Array.isArray(raw.models) || raw.models.length === 0)
      fail(`${where}: models`, 'expected a list of {name, covariates, contrasts}');
    spec.multiModel = true;
    const names = new Set<string>();
    raw.models.forEach((m, i) => {
      const w = `${where}: models[${i + 1}]`;
      if (!isObj(m)) fail(w, 'expected {name, covariates, contrasts}');
      checkKeys(m, ['name', 'covariates', 'contrasts'], w);
      if (typeof m.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(m.name))
        fail(w, "'name' is required: letters, digits, _ . - (it names the model's subfolder)");
      if (names.has(m.name)) fail(w, `a second model named '${m.name}'`);
      names.add(m.name);
      spec.models.push({
        name: m.name,
        covariates: m.covariates === undefined ? spec.covariates : strList(m.covariates, `${w}.covariates`),
        contrasts: m.contrasts === undefined ? [] : validateContrastSpecs(m.contrasts, `${w}.contrasts`),
      });
    });
  } else {
    spec.models.push({
      name: 'model',
      covariates: spec.covariates,
      contrasts: raw.contrasts === undefined ? [] : validateContrastSpecs(raw.contrasts, `${where}: contrasts`),
    });
  }
  if (raw.results !== undefined && raw.results !== false) {
    const r = raw.results === true ? {} : raw.results;
    if (!isObj(r)) fail(`${where}: results`, 'expected {threshold, correction, extent, ...} or true');
    const w = `${where}: results`;
    checkKeys(r, keysOf('results', RESULTS), w);
    spec.results = resultsOf(r, origin);
  }
  if (raw.atlas !== undefined) {
    const a = typeof raw.atlas === 'string' ? { name: raw.atlas } : raw.atlas;
    const w = `${where}: atlas`;
    if (!isObj(a) || typeof a.name !== 'string')
      fail(w, 'expected an atlas name or path, or {name, labels, modes, radius}');
    checkKeys(a, keysOf('atlas', ATLAS), w);
    const listed = listSetting(ATLAS.modes, a.modes ?? ATLAS.modes.default, origin) ?? [];
    const modes = listed.includes('all') ? ['peaks', 'extended', 'clusters'] : listed;
    const looksLikePath = /[/\\]|\.nii/.test(a.name);
    const labels = textSetting(ATLAS.labels, a.labels, origin);
    spec.atlas = {
      name: looksLikePath ? rel(a.name) : a.name,
      labels: labels === undefined ? undefined : rel(labels),
      modes: modes as LabelMode[],
      radius: numberOrDefault(ATLAS.radius, a.radius, origin),
    };
    spec.results ??= resultsOf({}, origin);
  }
  if (raw.permute !== undefined && raw.permute !== false) {
    const p = raw.permute === true ? {} : raw.permute;
    const w = `${where}: permute`;
    if (!isObj(p)) fail(w, 'expected {permutations, seed, tfce, cluster_threshold, contrasts, ...}');
    checkKeys(p, keysOf('permute', PERMUTE), w);
    const conn = Number(textSetting(PERMUTE.connectivity, p.connectivity, origin));
    const blocksFile = textSetting(PERMUTE.blocks, p.blocks, origin);
    let contrasts: (number | string)[] | undefined;
    if (p.contrasts !== undefined) {
      if (!Array.isArray(p.contrasts) || p.contrasts.some((c) => typeof c !== 'number' && typeof c !== 'string'))
        fail(w, "'contrasts' must be a list of contrast numbers or names");
      contrasts = p.contrasts as (number | string)[];
    }
    spec.permute = {
      contrasts,
      permutations: numberOrDefault(PERMUTE.permutations, p.permutations, origin),
      seed: numberOrDefault(PERMUTE.seed, p.seed, origin),
      tfce: switchSetting(PERMUTE.tfce, p.tfce, origin),
      clusterThreshold: numberSetting(PERMUTE.clusterThreshold, p.cluster_threshold, origin),
      connectivity: conn as 6 | 18 | 26,
      ...(p.accel !== undefined
        ? {
            accel: parseAccel(
              Array.isArray(p.accel)
                ? p.accel.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',')
                : typeof p.accel === 'string'
                  ? p.accel
                  : JSON.stringify(p.accel),
              settingName(PERMUTE.accel, origin),
            ),
          }
        : {}),
      // set only when given, so that the stage keys of files without them stay as they were
      ...(p.scheme !== undefined
        ? { scheme: textSetting<'auto' | 'permute' | 'signflip'>(PERMUTE.scheme, p.scheme, origin) }
        : {}),
      ...(blocksFile !== undefined ? { blocks: readBlocksFile(rel(blocksFile), origin) } : {}),
      ...(p.alpha !== undefined ? { alpha: numberOrDefault(PERMUTE.alpha, p.alpha, origin) } : {}),
      ...(p.tfce_e !== undefined || p.tfce_h !== undefined
        ? {
            tfceParams: {
              E: numberOrDefault(PERMUTE.tfceE, p.tfce_e, origin),
              H: numberOrDefault(PERMUTE.tfceH, p.tfce_h, origin),
            },
          }
        : {}),
    };
  }
  if (raw.report !== undefined && raw.report !== false) {
    const r = raw.report === true ? {} : raw.report;
    const w = `${where}: report`;
    if (!isObj(r))
      fail(w, 'expected true or {threshold, correction, extent, sign, display, cuts, background, viewer, file}');
    checkKeys(r, keysOf('report', PICTURE, REPORT), w);
    const bg = textSetting(PICTURE.background, r.background, origin)!;
    const file = textSetting(REPORT.out, r.file, origin)!;
    if (!/\.html?$/i.test(file)) fail(w, `file must name an .html file (got ${JSON.stringify(file)})`);
    spec.report = {
      threshold:
        numberSetting(PICTURE.threshold, r.threshold, origin) ??
        spec.results?.threshold ??
        numberOrDefault(PICTURE.threshold, undefined, origin),
      correction:
        textSetting<Correction>(PICTURE.correction, r.correction ?? spec.results?.correction, origin) ?? 'none',
      extent:
        numberSetting(PICTURE.extent, r.extent, origin) ??
        spec.results?.extent ??
        numberOrDefault(PICTURE.extent, undefined, origin),
      // the report shows one sign, as SPM's contrast view: positive unless told
      sign: textSetting<ReportSpec['sign']>(PICTURE.sign, r.sign, origin) ?? 'pos',
      display: textSetting<ReportSpec['display']>(PICTURE.display, r.display, origin)!,
      cuts: numberOrDefault(REPORT.cuts, r.cuts, origin),
      background: ['template', 'icbm152', 'mean', 'none', 'ch2bet', 'ch2', 'ch2better'].includes(bg) ? bg : rel(bg),
      viewer: switchSetting(REPORT.viewer, r.viewer, origin),
      file,
    };
  }
  if (raw.check !== undefined && raw.check !== false) {
    const c = raw.check === true ? {} : raw.check;
    const w = `${where}: check`;
    if (!isObj(c)) fail(w, 'expected true or {globals, nuisance}');
    checkKeys(c, keysOf('check', CHECK), w);
    // without its own column, the check scales by the design's user globals (as vbm run --check does)
    const designGlobals = spec.designOptions?.globals;
    const globals =
      textSetting(CHECK.globals, c.globals, origin) ??
      (designGlobals?.calculation === 'user' ? designGlobals.values : undefined);
    spec.check = { globals, nuisance: listSetting(CHECK.nuisance, c.nuisance, origin) ?? [] };
  }
  return spec;
}

/** Whether a `vbm run` argument is an analysis file rather than a spreadsheet. */
export function isAnalysisFile(path: string): boolean {
  return /\.(ya?ml|json)$/i.test(path);
}
