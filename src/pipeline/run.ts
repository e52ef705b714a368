import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VbmError } from '../errors.js';
import { StagedFiles } from '../node/atomic.js';
import { voxelSizes } from '../io/nifti/affine.js';
import { readTable } from '../node/spreadsheet.js';
import { type Design, type DesignOptions } from '../model/designMatrix.js';
import { designFromTable, tableScans } from './tableDesign.js';
import { globalsSource } from '../model/globals.js';
import { computeScanGlobals } from '../estimation/globals.js';
import { type Contrast, type ContrastSpec, buildContrasts } from '../model/contrasts.js';
import { type FitOptions, type FittedModel, fitModelStaged } from '../estimation/fit.js';
import { withSmoothness } from '../estimation/fitSolve.js';
import { type ContrastMaps, contrastMaps } from '../estimation/contrastMaps.js';
import type { MaskingOptions } from '../estimation/masking.js';
import { VBM_VERSION } from '../node/version.js';
import {
  MODEL_FILE,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type ModelRecord,
  analysisId,
  readModelRecord,
} from './modelRecord.js';
import { ImageBuffers, ImageWrites, stageImageJobs } from './outputs.js';
import { type ImageJob, contrastImageJobs, estimateImageJobs, rpvImageJob } from '../estimation/images.js';
import { adviseHugePages, nativeImageWriter } from '../estimation/nativeFit.js';

/** What `runAnalysis` needs: the spreadsheet, the output folder, the design, contrasts and masking. */
export interface AnalysisOptions extends DesignOptions {
  /** Spreadsheet (.xlsx, .csv, .tsv): first column scan paths, then covariates. */
  design: string;
  /** Output folder. */
  out: string;
  contrasts?: ContrastSpec[];
  masking?: MaskingOptions;
  /** Replace a folder that holds a different analysis. */
  overwrite?: boolean;
  workers?: number;
  /** Fold the scans into the fit's sums elsewhere (tasks on a backend); see FitOptions.sums. */
  fitSums?: FitOptions['sums'];
  /** The command line, recorded in model.json. */
  command?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
  log?: (message: string) => void;
  /** A design built by the caller (library use), used instead of building one from the spreadsheet. */
  prebuiltDesign?: Design;
  /** With prebuiltDesign: the contrasts already built from `contrasts` on it. */
  prebuiltContrasts?: Contrast[];
  /** With prebuiltDesign: its scans' headers, already read (see FitOptions.headers). */
  prebuiltHeaders?: FitOptions['headers'];
}

/** The analysis folder written by `runAnalysis` and its model record (model.json). */
export interface AnalysisResult {
  dir: string;
  record: ModelRecord;
  design: Design;
  contrasts: Contrast[];
  fit: FittedModel;
  /**
   * The contrasts' maps over the analysed voxels (computed from `fit` when first read: the run
   * itself computes each contrast into arrays it reuses once the contrast's images are encoded or written).
   */
  maps: ContrastMaps[];
  /** Wall time per stage, ms. */
  timings: Record<string, number>;
}

/** SPM-named files that show a folder holds some analysis. */
const ANALYSIS_FILES = /^(SPM\.mat|beta_\d{4}\.nii|ResMS\.nii|mask\.nii|con_\d{4}\.nii|spm[TF]_\d{4}\.nii)$/;

/**
 * The whole estimation: spreadsheet -> design -> masks -> OLS fit -> contrasts, writing SPM12's
 * images and model.json into `out`. Files appear only when all are written (temporary names,
 * then renames; model.json last).
 */
export async function runAnalysis(opts: AnalysisOptions): Promise<AnalysisResult> {
  const log = opts.log ?? (() => undefined);
  const started = performance.now();
  const dir = resolve(opts.out);
  const design = opts.prebuiltDesign ?? (await designOf(opts));
  if (design.collinear.length) {
    log(
      `warning: the design is rank-deficient (rank ${design.rank} < ${design.p} columns); collinear columns: ` +
        `${design.collinear.map((g) => g.join(' ~ ')).join('; ')}. Estimating with the pseudo-inverse as SPM does; only estimable contrasts are allowed.`,
    );
  }
  const contrasts =
    opts.prebuiltDesign && opts.prebuiltContrasts
      ? opts.prebuiltContrasts
      : buildContrasts(opts.contrasts ?? [], design);
  const id = analysisId(design.scanLabels, design.columns, design.X, design.varianceGroups);
  const previous = checkOutputFolder(dir, id, !!opts.overwrite);
  const masking = opts.masking ?? {};
  log(`design: ${design.n} scans x ${design.p} columns (${design.columns.join(', ')}), df = ${design.df}`);
  const fitted = await fitModelStaged(design, {
    masking,
    workers: opts.workers,
    sums: opts.fitSums,
    headers: opts.prebuiltDesign ? opts.prebuiltHeaders : undefined,
    onProgress: (d, t) => opts.onProgress?.('reading scans', d, t),
  });
  const solved = fitted.model;
  for (const w of solved.warnings) log(`warning: ${w}`);
  log(`analysis mask: ${solved.vox.length} voxels`);
  if (solved.nonSphericity)
    log(
      `non-sphericity: ReML over ${solved.nonSphericity.voxelsPooled} voxels, h = ${solved.nonSphericity.h.map((v) => v.toPrecision(4)).join(', ')}`,
    );
  // the model's images are written (by the addon's threads, or libuv's) while the contrasts are computed,
  // and both while the smoothness is estimated (on its own threads when the fit ran on threads)
  const t = performance.now();
  const staged = new StagedFiles({ background: true, hashes: true });
  try {
    mkdirSync(dir, { recursive: true });
    const buffers = new ImageBuffers();
    // the addon's loops for the contrasts and the images when it has them (the same bytes; the fit's threads)
    const kernel = fitted.postKernel;
    // the addon's writer makes each image's file from its values on a thread of its own, while this
    // thread computes the contrasts; else each image is encoded here and written by libuv's threads.
    // stage() resolves once the jobs are staged, with `written`: a promise of their writes' end
    // (it takes voxels that ascend, as an analysis mask's do: the candidates are found in grid order and
    // the analysed ones kept in order; it refuses others)
    const writer = nativeImageWriter();
    const writes = writer ? new ImageWrites(dir, staged, writer) : undefined;
    const stage = async (jobs: ImageJob[]): Promise<{ written: Promise<void> }> => {
      if (writes) return { written: writes.add(jobs) };
      await stageImageJobs(dir, jobs, staged, buffers);
      return { written: Promise.resolve() };
    };
    await stage(estimateImageJobs(solved, design.columns, kernel));
    // the contrasts into the same arrays: one pair whose images are encoded before the next contrast is
    // computed, or two taking turns while the writer reads them (new memory costs more on its first
    // touch than the maps' computation)
    let contrastMs = 0;
    const m = solved.vox.length;
    const into = contrasts
      .slice(0, writes ? 2 : 1)
      .map(() => ({ effect: new Float64Array(m), stat: new Float64Array(m) }));
    for (const a of into) adviseHugePages(a.effect, a.stat);
    const reading: Promise<void>[] = [];
    const contrastFiles: { effect: string; stat: string }[] = [];
    const contrastDf: [number, number][] = [];
    for (const [i, c] of contrasts.entries()) {
      const slot = i % into.length;
      await reading[slot]; // the images made from these arrays are written
      const tc = performance.now();
      const map = contrastMaps(solved, c, kernel, into[slot]);
      contrastMs += performance.now() - tc;
      const { effect, stat } = contrastImageJobs(solved, map, kernel);
      reading[slot] = (await stage([effect, stat])).written;
      contrastFiles.push({ effect: effect.name, stat: stat.name });
      contrastDf.push(map.df);
    }
    const { smoothness, resels } = await fitted.smoothness;
    const fit = withSmoothness(solved, smoothness);
    await stage([rpvImageJob(fit, kernel)]);
    const vs = voxelSizes(fit.affine);
    const record: ModelRecord = {
      format: MODEL_FORMAT,
      formatVersion: MODEL_FORMAT_VERSION,
      vbmVersion: VBM_VERSION,
      created: new Date().toISOString(),
      command: opts.command,
      ...(opts.command ? { commands: { estimate: opts.command, contrasts: opts.command } } : {}),
      analysisId: id,
      design: {
        source: resolve(opts.design),
        columns: design.columns,
        matrix: design.X,
        intercept: design.intercept,
        covariates: design.covariates.map((c) => ({
          name: c.name,
          centring: c.centring,
          offset: c.offset,
          values: c.raw,
        })),
        n: design.n,
        rank: design.rank,
        df: design.df,
        trRV: fit.trRV,
        collinear: design.collinear,
        model: design.model,
        rows: design.rows,
        roles: design.roles,
        columnInfo: design.columnInfo,
        factors: design.factors,
        variance: design.variance,
        varianceGroups: design.varianceGroups ? [...design.varianceGroups] : undefined,
        globals: design.globals,
      },
      ...(fit.nonSphericity ? { nonSphericity: fit.nonSphericity } : {}),
      scans: fit.scans.map((s, i) => ({ label: design.scanLabels[i], row: design.rows[i], ...s })),
      masking: {
        explicitMask: masking.explicitMask ? resolve(masking.explicitMask) : null,
        implicit: masking.implicit ?? true,
        threshold: masking.threshold ?? { type: 'none' },
        voxels: fit.vox.length,
      },
      grid: { dims: fit.dims, affine: fit.affine, voxelSize: vs },
      smoothness: {
        FWHM_vox: fit.smoothness.fwhmVox,
        FWHM_mm: fit.smoothness.fwhmVox.map((f, i) => f * vs[i]),
        R: resels,
        S: fit.vox.length,
        nResiduals: fit.smoothness.nResiduals,
        nValidVoxels: fit.smoothness.nValid,
      },
      images: {
        beta: design.columns.map((_, j) => `beta_${String(j + 1).padStart(4, '0')}.nii`),
        ResMS: 'ResMS.nii',
        mask: 'mask.nii',
        RPV: 'RPV.nii',
      },
      contrasts: contrasts.map((c, i) => ({
        index: c.index,
        name: c.name,
        type: c.type,
        weights: c.weights,
        df: contrastDf[i],
        images: contrastFiles[i],
      })),
    };
    staged.write(
      join(dir, 'smoothness.json'),
      JSON.stringify(
        {
          FWHM_mm: record.smoothness.FWHM_mm,
          FWHM_vox: record.smoothness.FWHM_vox,
          resel_size_vox: record.smoothness.FWHM_vox.reduce((a, b) => a * b, 1),
          R: record.smoothness.R,
          S: record.smoothness.S,
          df: design.df,
          nResiduals: record.smoothness.nResiduals,
          voxel_size_mm: vs,
        },
        null,
        1,
      ) + '\n',
    );
    staged.write(join(dir, MODEL_FILE), JSON.stringify(record, null, 1) + '\n');
    await staged.flushed();
    const written = new Set(staged.commit());
    // images of the previous run that this one does not rewrite (e.g. a dropped contrast) go
    if (previous) {
      const old = [...previous.images.beta, ...previous.contrasts.flatMap((c) => [c.images.effect, c.images.stat])];
      for (const f of old) if (!written.has(join(dir, f))) rmSync(join(dir, f), { force: true });
    }
    const timings = {
      ...fit.timings,
      contrasts: contrastMs,
      write: performance.now() - t - contrastMs,
      total: performance.now() - started,
    };
    let maps: ContrastMaps[] | undefined;
    const result = { dir, record, design, contrasts, fit, timings } as Omit<AnalysisResult, 'maps'>;
    return Object.defineProperty(result, 'maps', {
      get: () => (maps ??= contrasts.map((c) => contrastMaps(solved, c, kernel))),
      enumerable: true,
    }) as AnalysisResult;
  } catch (e) {
    await staged.flushed().catch(() => undefined); // no background write may outlive abort()'s removal
    staged.abort();
    throw e;
  }
}

/** The design of the spreadsheet (read here), with the scans' mean globals when the design asks for them. */
async function designOf(opts: AnalysisOptions): Promise<Design> {
  const table = await readTable(opts.design);
  const globalValues =
    opts.globalValues ??
    (globalsSource(opts.globals) === 'mean'
      ? await computeScanGlobals(tableScans(table), (d, t) => opts.onProgress?.('global means', d, t))
      : undefined);
  return designFromTable(table, { ...opts, globalValues });
}

/**
 * A folder may receive this analysis when it is empty, or already holds this analysis (same
 * scans and design). Another analysis, or files of one vbm did not write, need --overwrite.
 */
function checkOutputFolder(dir: string, id: string, overwrite: boolean): ModelRecord | undefined {
  const { previous, foreign } = inspectOutputFolder(dir, id, overwrite);
  if (foreign.length) for (const f of foreign) rmSync(join(dir, f), { force: true });
  return previous;
}

/**
 * Whether `dir` may receive the analysis `id`, without changing anything: throws the refusal,
 * or returns the analysis it holds and the foreign (SPM) files that --overwrite would remove.
 */
export function inspectOutputFolder(
  dir: string,
  id: string,
  overwrite: boolean,
): { previous?: ModelRecord; foreign: string[] } {
  if (!existsSync(dir)) return { foreign: [] };
  if (!statSync(dir).isDirectory()) {
    throw new VbmError(`${dir} is a file, not a folder`, 'give --out (or out: in the analysis file) a folder name');
  }
  const entries = readdirSync(dir);
  if (entries.includes(MODEL_FILE)) {
    let rec: ModelRecord | undefined;
    try {
      rec = readModelRecord(dir);
    } catch (e) {
      if (!overwrite) throw e;
    }
    if (rec && rec.analysisId !== id && !overwrite) {
      throw new VbmError(
        `${dir} already holds a different analysis (${rec.scans.length} scans, columns ${rec.design.columns.join(', ')}, made ${rec.created})`,
        'choose another --out folder, or add --overwrite to replace it',
      );
    }
    return { previous: rec, foreign: [] };
  }
  const foreign = entries.filter((f) => ANALYSIS_FILES.test(f));
  if (foreign.length && !overwrite) {
    throw new VbmError(
      `${dir} holds analysis files vbm did not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`,
      'choose another --out folder, or add --overwrite to replace them',
    );
  }
  return { foreign };
}
