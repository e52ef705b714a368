/**
 * `vbm check`: sample homogeneity before the model (CAT12's "Check sample homogeneity"). Each scan
 * is read once; its masked voxels, after proportional scaling by a global column, are kept as one
 * float32 row (in memory, or in a temporary file past a fixed budget); then voxel blocks of all
 * rows feed the kernel in check/homogeneity.ts (nuisance regression, Z-scores, Gram matrix).
 * Writes check.csv (per scan), check.json (settings, rule, summary) and check.png (box plots).
 */
import { type Origin, settingName } from '../settings/setting.js';
import { CHECK } from '../settings/vocabulary.js';
import { basename, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { VbmError } from '../errors.js';
import { StagedFiles } from '../node/atomic.js';
import { readTable } from '../node/spreadsheet.js';
import { type NiftiFile, decodeVolume, openNifti, readHeaderOnly, readVolume } from '../node/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { RowStore } from '../node/rowStore.js';
import { designFromTable } from './tableDesign.js';
import { resampleMaskNearest } from '../estimation/masking.js';
import { checkGrid } from '../estimation/fitJob.js';
import { parseScanRefs } from '../estimation/scanList.js';
import { FLAG_SDS, HomogeneityAccumulator, flagScans, rankScans, robustScale } from '../check/homogeneity.js';
import { CHECK_CSV, CHECK_JSON, CHECK_PNG, type CheckSummary } from '../check/summary.js';
import { plotCheck } from '../plot/checkPlot.js';
import { formatTable } from '../report/textTable.js';
import { type CsvCell, toCsv } from '../io/csv.js';

/** The file names and the record live in check/summary.ts, where the report can read them too. */
export { CHECK_CSV, CHECK_JSON, CHECK_PNG, type CheckSummary };

/** What `vbm check` needs: the spreadsheet, output folder, mask, global scaling column and nuisance columns. */
export interface CheckOptions {
  /** Spreadsheet: first column scan paths. */
  design: string;
  /** Output folder. */
  out: string;
  /** Explicit mask image (voxels > 0), sampled by nearest neighbour in mm. */
  mask?: string;
  /** Column of global values (e.g. TIV) for proportional scaling. */
  globals?: string;
  /** Columns regressed out voxel by voxel before the measures. */
  nuisance?: string[];
  /** Where globals and nuisance were written (flags or an analysis file), for messages. */
  origin?: Origin;
  /** Memory for the scans' rows before they go to a temporary file (default 512 MB). */
  memoryBytes?: number;
  /** Memory for one block of voxels of all scans (default 64 MB). */
  blockBytes?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** What `vbm check` found: the summary, the flagged scans, the text printed and the files written. */
export interface CheckResult {
  summary: CheckSummary;
  /** Flagged scans, most extreme first. */
  flagged: CheckSummary['perScan'];
  files: string[];
  text: string;
}

export const CHECK_RULE =
  `a scan is flagged when its mean correlation with the other scans is more than ${FLAG_SDS} SD below the median, ` +
  `or its quartic mean Z-score more than ${FLAG_SDS} SD above the median (SD = 1.4826 x median absolute deviation, so that bad scans do not widen it); ` +
  'on clean data (normal measures) each rule flags 2.3% of a large sample, 2.5% of a sample of 100, and the two together 3-5%';

/** Check sample homogeneity before the model (CAT12's check): each scan's mean correlation with the others and its quartic mean Z-score; writes check.csv, check.png, check.json. */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const table = await readTable(opts.design);
  const nuisance = opts.nuisance ?? [];
  const wanted = [...new Set([...(opts.globals ? [opts.globals] : []), ...nuisance])];
  for (const c of wanted) {
    if (!table.header.slice(1).includes(c)) {
      throw new VbmError(
        `${opts.design}: column '${c}' (named by ${settingName(c === opts.globals ? CHECK.globals : CHECK.nuisance, opts.origin)}) is not in the spreadsheet`,
        `its columns are: ${table.header.slice(1).join(', ')}`,
      );
    }
  }
  const design = designFromTable(table, { covariates: wanted, intercept: true });
  const values = (name: string): number[] => design.covariates.find((c) => c.name === name)!.raw;
  const n = design.n;
  if (n < 3)
    throw new VbmError(`${opts.design}: ${n} scans; the check compares scans with each other and needs at least 3`);
  let scale = new Array<number>(n).fill(1);
  if (opts.globals) {
    const g = values(opts.globals);
    g.forEach((v, i) => {
      if (!(v > 0))
        throw new VbmError(
          `${opts.design}: row ${table.rowNumbers[i]} (${design.scanLabels[i]}), column '${opts.globals}': global value ${v} is not positive`,
          'proportional scaling divides each scan by its global value (e.g. TIV)',
        );
    });
    const gm = g.reduce((a, b) => a + b, 0) / n;
    scale = g.map((v) => gm / v);
  }
  if (n - 1 - nuisance.length < 1)
    throw new VbmError(
      `${n} scans leave no degrees of freedom after ${nuisance.length} nuisance columns`,
      'drop nuisance columns or add scans',
    );
  // headers, grids
  const stripped = design.scans.map((s) => s.replace(/,(\d+)$/, ''));
  const headers = new Map<string, NiftiHeader>();
  for (const p of new Set(stripped)) headers.set(p, await readHeaderOnly(p));
  const refs = parseScanRefs(design.scans, (p) => headers.get(p)?.nVolumes ?? 1);
  const first = headers.get(refs[0].path)!;
  const reference = { dims: first.dims, affine: first.affine, path: refs[0].path };
  for (const r of refs) checkGrid(headers.get(r.path)!.dims, headers.get(r.path)!.affine, r.path, reference);
  const nvox = first.dims[0] * first.dims[1] * first.dims[2];
  const explicit = opts.mask
    ? resampleMaskNearest(readVolume(opts.mask), first.dims, first.affine)
    : new Uint8Array(nvox).fill(1);
  let m = 0;
  for (let i = 0; i < nvox; i++) m += explicit[i];
  if (m === 0)
    throw new VbmError(
      `the mask ${opts.mask} covers no voxel of the scans`,
      'check that mask and scans are in the same space',
    );
  const cand = new Int32Array(m);
  for (let i = 0, c = 0; i < nvox; i++) if (explicit[i]) cand[c++] = i;
  // one read of each scan: masked, NaN -> 0 (missing counts as no tissue, so it stands out)
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const rows = new RowStore(n, m, { dir: out, memoryBytes: opts.memoryBytes });
  try {
    const sum = new Float64Array(m);
    const row = new Float32Array(m);
    let open: { path: string; file: NiftiFile } | undefined;
    refs.forEach((r, i) => {
      if (!open || open.path !== r.path) open = { path: r.path, file: openNifti(r.path) };
      const data = decodeVolume(open.file, r.volume);
      const s = scale[i];
      for (let c = 0; c < m; c++) {
        const v = data[cand[c]];
        const x = Number.isFinite(v) ? v : 0;
        row[c] = x;
        sum[c] += x * s;
      }
      rows.push(row);
      opts.onProgress?.('reading scans', i + 1, n);
    });
    // CAT12's mask: voxels whose sample mean exceeds a quarter of the mean image's global mean
    let s0 = 0;
    let k0 = 0;
    for (let c = 0; c < m; c++) {
      if (sum[c] !== 0) {
        s0 += sum[c] / n;
        k0++;
      }
    }
    const cut = s0 / Math.max(1, k0) / 8;
    let s1 = 0;
    let k1 = 0;
    for (let c = 0; c < m; c++) {
      if (sum[c] / n > cut) {
        s1 += sum[c] / n;
        k1++;
      }
    }
    const floor = 0.25 * (k1 ? s1 / k1 : 0);
    const keep = new Uint8Array(m);
    let kept = 0;
    for (let c = 0; c < m; c++) {
      if (sum[c] / n > floor) {
        keep[c] = 1;
        kept++;
      }
    }
    if (kept === 0)
      throw new VbmError(
        'no voxel has data in the mask (the mean of the scans is zero there)',
        'check the mask and the scans',
      );
    // blocks of voxels of every scan: memory n x B, B chosen from a fixed budget
    const nuisanceMatrix = nuisance.length
      ? Array.from({ length: n }, (_, i) => nuisance.map((name) => values(name)[i]))
      : undefined;
    const acc = new HomogeneityAccumulator(n, nuisanceMatrix);
    const B = Math.max(64, Math.floor((opts.blockBytes ?? 64 * 1024 * 1024) / (8 * n)));
    const span = new Float64Array(n * B);
    const block = new Float64Array(n * B);
    for (let c0 = 0; c0 < m; c0 += B) {
      const c1 = Math.min(m, c0 + B);
      rows.readBlock(c0, c1, span, B);
      const cols: number[] = [];
      for (let c = c0; c < c1; c++) if (keep[c]) cols.push(c - c0);
      const w = cols.length;
      if (!w) continue;
      // proportional scaling here, in float64 (the rows hold the scans' own values)
      for (let i = 0; i < n; i++) for (let k = 0; k < w; k++) block[i * w + k] = span[i * B + cols[k]] * scale[i];
      acc.addBlock(block, w, w);
      opts.onProgress?.('comparing scans', c1, m);
    }
    if (acc.voxels === 0)
      throw new VbmError(
        'the scans do not differ at any voxel of the mask',
        'check that the design names different scans',
      );
    const { meanCorrelation, quarticZ } = acc.measures();
    const verdicts = flagScans(meanCorrelation, quarticZ);
    const ranked = rankScans(verdicts);
    const rankOf = new Map(ranked.map((v, r) => [v.row, r + 1]));
    const rc = robustScale(meanCorrelation);
    const rz = robustScale(quarticZ);
    const perScan = verdicts.map((v) => ({ ...v, scan: design.scanLabels[v.row], rank: rankOf.get(v.row)! }));
    const summary: CheckSummary = {
      format: 'vbm-check',
      design: resolve(opts.design),
      mask: opts.mask ? resolve(opts.mask) : null,
      globals: opts.globals ?? null,
      nuisance,
      scans: n,
      voxels: acc.voxels,
      rule: CHECK_RULE,
      meanCorrelation: { median: rc.centre, sd: rc.sd, threshold: rc.centre - FLAG_SDS * rc.sd },
      quarticZ: { median: rz.centre, sd: rz.sd, threshold: rz.centre + FLAG_SDS * rz.sd },
      flagged: verdicts.filter((v) => v.flagged).length,
      perScan,
    };
    const flagged = ranked.filter((v) => v.flagged).map((v) => perScan[v.row]);
    const files = writeCheckFiles(out, summary);
    return { summary, flagged, files, text: checkText(summary, flagged) };
  } finally {
    rows.close();
  }
}

function writeCheckFiles(dir: string, s: CheckSummary): string[] {
  const header = [
    'row',
    'scan',
    'mean_correlation',
    'quartic_mean_z',
    'correlation_below_median_sd',
    'z_above_median_sd',
    'flagged',
    'reason',
    'rank',
  ];
  const lines: CsvCell[][] = [header];
  for (const v of s.perScan) {
    lines.push([
      v.row + 1,
      v.scan,
      v.meanCorrelation.toPrecision(8),
      v.quarticZ.toPrecision(8),
      v.correlationDeviation.toFixed(3),
      v.zDeviation.toFixed(3),
      v.flagged ? 1 : 0,
      v.reasons.join('; '),
      v.rank,
    ]);
  }
  const picture = plotCheck({
    title: `Sample homogeneity: ${s.scans} scans, ${s.flagged} flagged`,
    measures: [
      {
        title: 'Mean correlation with the other scans',
        values: s.perScan.map((v) => v.meanCorrelation),
        threshold: s.meanCorrelation.threshold,
        side: 'low',
      },
      {
        title: 'Quartic mean Z-score',
        values: s.perScan.map((v) => v.quarticZ),
        threshold: s.quarticZ.threshold,
        side: 'high',
      },
    ],
    flagged: s.perScan.map((v) => v.flagged),
    names: s.perScan.map((v) => `${v.row + 1}: ${basename(v.scan)}`),
  });
  const staged = new StagedFiles();
  try {
    staged.write(join(dir, CHECK_CSV), toCsv(lines));
    staged.write(join(dir, CHECK_PNG), picture.png);
    staged.write(join(dir, CHECK_JSON), JSON.stringify(s, null, 1) + '\n');
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
  return [CHECK_CSV, CHECK_PNG, CHECK_JSON];
}

export function checkText(s: CheckSummary, flagged: CheckSummary['perScan']): string {
  const f3 = (x: number): string => x.toFixed(3);
  const out = [
    `Sample homogeneity: ${s.scans} scans over ${s.voxels} voxels${s.mask ? ` (mask ${s.mask})` : ''}` +
      `${s.globals ? `, proportional scaling by '${s.globals}'` : ''}${s.nuisance.length ? `, nuisance ${s.nuisance.join(', ')} regressed out` : ''}`,
    `  mean correlation: median ${f3(s.meanCorrelation.median)}, SD ${f3(s.meanCorrelation.sd)}, flagged below ${f3(s.meanCorrelation.threshold)}`,
    `  quartic mean Z:   median ${f3(s.quarticZ.median)}, SD ${f3(s.quarticZ.sd)}, flagged above ${f3(s.quarticZ.threshold)}`,
    `  rule: ${s.rule}`,
    '',
  ];
  if (!flagged.length) out.push('No scan is flagged.');
  else {
    out.push(`${flagged.length} scan(s) flagged, most extreme first (check them; flagged does not mean exclude):`);
    out.push(
      formatTable(
        ['row', 'scan', 'mean r', 'quartic Z', 'reason'],
        flagged.map((v) => [
          String(v.row + 1),
          v.scan,
          f3(v.meanCorrelation),
          f3(v.quarticZ),
          `${v.reasons.join(', ')} (${Math.max(v.correlationDeviation, v.zDeviation).toFixed(1)} SD)`,
        ]),
        ['r', 'l', 'r', 'r', 'l'],
      ),
    );
  }
  return out.join('\n');
}
