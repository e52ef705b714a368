/**
 * The analysis file (YAML or JSON): one description of a study, from the spreadsheet to the
 * permutation settings, validated with messages that name the key. The command line builds the
 * same object, so everything said in one can be said in the other.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VbmError } from '../errors.js';
import { type BackendSettings, backendFromFile } from '../backend/backend.js';
import type { Centring } from '../model/designMatrix.js';
import { type ContrastSpec, validateContrastSpecs } from '../model/contrasts.js';
import type { Correction } from '../inference/results.js';
import { EXTRA_MAPS, type ExtraMap } from './results.js';
import type { LabelMode } from '../atlas/label.js';
import { DESIGN_KEYS, type DesignSpec, parseDesignKeys } from './designSpec.js';
import { type AccelOptions, parseAccel } from '../permutation/accel.js';
import { parseMemorySize } from '../permutation/memoryBudget.js';

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

function num(o: Obj, key: string, where: string, def?: number): number {
  const v = o[key];
  if (v === undefined) {
    if (def === undefined) fail(where, `'${key}' is required`);
    return def;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `'${key}' must be a number (got ${JSON.stringify(v)})`);
  return v;
}

function bool(o: Obj, key: string, where: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') fail(where, `'${key}' must be true or false (got ${JSON.stringify(v)})`);
  return v;
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

export function parseAnalysisSpec(raw: unknown, baseDir: string, where: string): AnalysisSpec {
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
    intercept: bool(raw, 'intercept', where, true),
    implicitMask: bool(raw, 'implicit_mask', where, true),
    models: [],
    multiModel: false,
  };
  if (raw.covariates !== undefined) spec.covariates = strList(raw.covariates, `${where}: covariates`);
  spec.designOptions = parseDesignKeys(raw, where);
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
      fail(`${where}: threshold_masking`, 'give absolute or relative, not both');
    spec.threshold = {
      absolute: t.absolute === undefined ? undefined : num(t, 'absolute', `${where}: threshold_masking`),
      relative: t.relative === undefined ? undefined : num(t, 'relative', `${where}: threshold_masking`),
    };
  }
  if (raw.workers !== undefined) spec.workers = num(raw, 'workers', where);
  if (raw.memory !== undefined) spec.memory = parseMemorySize(raw.memory as string | number, `${where}: memory`);
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
    checkKeys(r, ['threshold', 'correction', 'extent', 'peaks', 'peak_distance', 'maps'], w);
    const correction = r.correction ?? 'none';
    if (correction !== 'none' && correction !== 'fwe' && correction !== 'fdr')
      fail(w, `correction must be none, fwe or fdr (got ${JSON.stringify(correction)})`);
    const maps = r.maps === undefined ? [] : strList(r.maps, `${w}.maps`);
    for (const m of maps)
      if (!(EXTRA_MAPS as string[]).includes(m)) fail(`${w}.maps`, `'${m}' is not one of ${EXTRA_MAPS.join(', ')}`);
    spec.results = {
      threshold: num(r, 'threshold', w, 0.001),
      correction,
      extent: num(r, 'extent', w, 0),
      peaks: num(r, 'peaks', w, 3),
      peakDistance: num(r, 'peak_distance', w, 8),
      maps: maps as ExtraMap[],
    };
  }
  if (raw.atlas !== undefined) {
    const a = typeof raw.atlas === 'string' ? { name: raw.atlas } : raw.atlas;
    const w = `${where}: atlas`;
    if (!isObj(a) || typeof a.name !== 'string')
      fail(w, 'expected an atlas name or path, or {name, labels, modes, radius}');
    checkKeys(a, ['name', 'labels', 'modes', 'radius'], w);
    const modes = a.modes === undefined ? ['peaks', 'extended', 'clusters'] : strList(a.modes, `${w}.modes`);
    for (const m of modes)
      if (!['peaks', 'extended', 'clusters'].includes(m))
        fail(`${w}.modes`, `'${m}' is not one of peaks, extended, clusters`);
    const looksLikePath = /[/\\]|\.nii/.test(a.name);
    spec.atlas = {
      name: looksLikePath ? rel(a.name) : a.name,
      labels: typeof a.labels === 'string' ? rel(a.labels) : undefined,
      modes: modes as LabelMode[],
      radius: num(a, 'radius', w, 5),
    };
    if (!spec.results)
      spec.results = { threshold: 0.001, correction: 'none', extent: 0, peaks: 3, peakDistance: 8, maps: [] };
  }
  if (raw.permute !== undefined && raw.permute !== false) {
    const p = raw.permute === true ? {} : raw.permute;
    const w = `${where}: permute`;
    if (!isObj(p)) fail(w, 'expected {permutations, seed, tfce, cluster_threshold, contrasts}');
    checkKeys(p, ['contrasts', 'permutations', 'seed', 'tfce', 'cluster_threshold', 'connectivity', 'accel'], w);
    const conn = num(p, 'connectivity', w, 26);
    if (![6, 18, 26].includes(conn)) fail(w, `connectivity must be 6, 18 or 26 (got ${conn})`);
    let contrasts: (number | string)[] | undefined;
    if (p.contrasts !== undefined) {
      if (!Array.isArray(p.contrasts) || p.contrasts.some((c) => typeof c !== 'number' && typeof c !== 'string'))
        fail(w, "'contrasts' must be a list of contrast numbers or names");
      contrasts = p.contrasts as (number | string)[];
    }
    spec.permute = {
      contrasts,
      permutations: num(p, 'permutations', w, 5000),
      seed: num(p, 'seed', w, 0),
      tfce: bool(p, 'tfce', w, false),
      clusterThreshold: p.cluster_threshold === undefined ? undefined : num(p, 'cluster_threshold', w),
      connectivity: conn as 6 | 18 | 26,
      ...(p.accel !== undefined
        ? {
            accel: parseAccel(
              Array.isArray(p.accel)
                ? p.accel.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',')
                : typeof p.accel === 'string'
                  ? p.accel
                  : JSON.stringify(p.accel),
              `${w}.accel`,
            ),
          }
        : {}),
    };
  }
  if (raw.report !== undefined && raw.report !== false) {
    const r = raw.report === true ? {} : raw.report;
    const w = `${where}: report`;
    if (!isObj(r))
      fail(w, 'expected true or {threshold, correction, extent, sign, display, cuts, background, viewer, file}');
    checkKeys(r, ['threshold', 'correction', 'extent', 'sign', 'display', 'cuts', 'background', 'viewer', 'file'], w);
    const correction = r.correction ?? spec.results?.correction ?? 'none';
    if (correction !== 'none' && correction !== 'fwe' && correction !== 'fdr')
      fail(w, `correction must be none, fwe or fdr (got ${JSON.stringify(correction)})`);
    const sign = r.sign ?? 'pos';
    if (sign !== 'pos' && sign !== 'neg' && sign !== 'both')
      fail(w, `sign must be pos, neg or both (got ${JSON.stringify(sign)})`);
    const display = r.display ?? 'z';
    if (typeof display !== 'string' || !['x', 'y', 'z', 'ortho'].includes(display))
      fail(w, `display must be x, y, z or ortho (got ${JSON.stringify(display)})`);
    const bg = r.background ?? 'template';
    if (typeof bg !== 'string')
      fail(w, "background must be 'template', 'icbm152', 'mean', 'none', 'ch2bet' or an image path");
    const file = r.file ?? 'report.html';
    if (typeof file !== 'string' || !/\.html?$/i.test(file))
      fail(w, `file must name an .html file (got ${JSON.stringify(file)})`);
    spec.report = {
      threshold: num(r, 'threshold', w, spec.results?.threshold ?? 0.001),
      correction,
      extent: num(r, 'extent', w, spec.results?.extent ?? 0),
      sign,
      display: display as ReportSpec['display'],
      cuts: num(r, 'cuts', w, 8),
      background: ['template', 'icbm152', 'mean', 'none', 'ch2bet', 'ch2', 'ch2better'].includes(bg) ? bg : rel(bg),
      viewer: bool(r, 'viewer', w, true),
      file: String(file),
    };
  }
  if (raw.check !== undefined && raw.check !== false) {
    const c = raw.check === true ? {} : raw.check;
    const w = `${where}: check`;
    if (!isObj(c)) fail(w, 'expected true or {globals, nuisance}');
    checkKeys(c, ['globals', 'nuisance'], w);
    if (c.globals !== undefined && typeof c.globals !== 'string') fail(w, "'globals' must name a column (e.g. tiv)");
    // without its own column, the check scales by the design's user globals (as vbm run --check does)
    const designGlobals = spec.designOptions?.globals;
    const globals = c.globals ?? (designGlobals?.calculation === 'user' ? designGlobals.values : undefined);
    spec.check = { globals, nuisance: c.nuisance === undefined ? [] : strList(c.nuisance, `${w}.nuisance`) };
  }
  return spec;
}

export function readAnalysisFile(path: string): AnalysisSpec {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new VbmError(`analysis file not found: ${abs}`);
  let raw: unknown;
  try {
    const text = readFileSync(abs, 'utf8');
    raw = /\.json$/i.test(abs) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new VbmError(
      `${abs}: cannot parse (${(e as Error).message})`,
      'check the YAML/JSON syntax; `vbm init design.csv` writes a commented example',
    );
  }
  const spec = parseAnalysisSpec(raw, dirname(abs), abs);
  spec.source = abs;
  return spec;
}

/** Whether a `vbm run` argument is an analysis file rather than a spreadsheet. */
export function isAnalysisFile(path: string): boolean {
  return /\.(ya?ml|json)$/i.test(path);
}
