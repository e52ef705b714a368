/** vbm's library API: the CLI is a thin layer over these. */
import type { AnalysisSpec } from './pipeline/analysisFile.js';
import { type PipelineOptions, runPipeline as runPipelineStages } from './pipeline/pipeline.js';
import { backendTasks } from './backend/pipelineTasks.js';
export { VbmError } from './errors.js';
export { VBM_VERSION } from './node/version.js';
export type { Volume } from './io/nifti/volume.js';
export type { NiftiHeader } from './io/nifti/header.js';
export { readVolume, openNifti, decodeVolume, readHeaderOnly } from './node/nifti/read.js';
export { encodeNifti } from './node/nifti/write.js';
export { DT } from './io/nifti/datatypes.js';
export { type Affine, applyAffine, invertAffine, axisCodes, voxelSizes } from './io/nifti/affine.js';
export { readTable, type Table } from './node/spreadsheet.js';
export { type Design, type DesignOptions, type Centring } from './model/designMatrix.js';
export { designFromTable as designMatrix, tableScans } from './pipeline/tableDesign.js';
export { buildContrasts, parseInlineContrast, type Contrast, type ContrastSpec } from './model/contrasts.js';
export { parseContrastsText } from './model/contrastsText.js';
export { readContrastsFile } from './pipeline/contrastsFile.js';
export { fitModel, type FittedModel, type FitOptions } from './estimation/fit.js';
export { contrastMaps, type ContrastMaps } from './estimation/contrastMaps.js';
export type { MaskingOptions, ThresholdMasking } from './estimation/masking.js';
export { runAnalysis, type AnalysisOptions, type AnalysisResult } from './pipeline/run.js';
export { openAnalysis, type Analysis } from './pipeline/analysis.js';
export type { ModelRecord } from './pipeline/modelRecord.js';
export { describeAnalysis } from './pipeline/show.js';
export { makeCohort, writeCohort, templateMask } from './synth/phantom.js';
export { computeResults, type ResultsOptions, type ResultsTable, type Correction } from './inference/results.js';
export { runResults, analysisResults, type ResultsRequest, type ResultsOutput } from './pipeline/results.js';
export { loadAtlas, codeAt, regionName, type Atlas } from './atlas/atlas.js';
export { labelPeaks, labelExtended, labelClusters, type LabelMode } from './atlas/label.js';
export { listAtlases, resolveAtlas } from './atlas/registry.js';
export { runLabel, type LabelRequest } from './pipeline/label.js';
export {
  permutationTest,
  type PermuteOptions,
  type PermutationResult,
  type PermutationInput,
} from './permutation/permute.js';
export { permuteContrast } from './pipeline/permuteInput.js';
export { tfce, TfceWorkspace, FSL_TFCE, type TfceParams } from './permutation/tfce.js';
export { maskedNeighbours } from './inference/neighbours.js';
export { runPermute, type PermuteRequest, type PermuteOutput } from './pipeline/permute.js';
export { parseAnalysisSpec, type AnalysisSpec } from './pipeline/analysisFile.js';
export { readAnalysisFile } from './pipeline/analysisFileRead.js';
export { stageSummary, type PipelineOptions, type ModelReport } from './pipeline/pipeline.js';
export { TasksSubmitted, type TaskBackend } from './pipeline/taskBackend.js';
export {
  runPlot,
  displayedMap,
  drawSlices,
  drawGlassBrain,
  drawDesign,
  clustersOnCuts,
  type PlotRequest,
  type PlotOutput,
  type ThresholdRequest,
} from './pipeline/plot.js';
export { runReport, type ReportRequest, type ReportOutput } from './pipeline/report.js';
export {
  plotStatMap,
  plotGlassBrain,
  chooseCuts,
  peakPosition,
  type StatMapRequest,
  type GlassBrainRequest,
  type PlotResult,
} from './plot/statMap.js';
export { plotDesignMatrix } from './plot/designMatrix.js';
export { shippedTemplate, shippedTemplatePath } from './plot/background.js';
export { resolveBackground, meanOfScans } from './pipeline/background.js';
export { findCuts, displayedClusters, type CutCluster, type CutPlan } from './plot/cuts.js';
export { makeDemoStudy, writeDemoStudy, DEMO_EFFECTS, type DemoStudy } from './synth/demoStudy.js';
export { runCheck, type CheckOptions, type CheckResult, type CheckSummary } from './pipeline/check.js';
export { HomogeneityAccumulator, flagScans, rankScans, type ScanVerdict } from './check/homogeneity.js';
export { makeQcCohort, writeQcCohort, type ScanFault } from './synth/qcCohort.js';
export { columnCorrelations, orthogonalityWarnings, type OrthogonalityWarning } from './model/orthogonality.js';
export { partialR, partialR2, signedLogP, twoGroupContrast } from './inference/effectSize.js';
export { type BackendSettings, type TaskRunner, checkBackendSettings } from './backend/backend.js';
export { LocalRunner } from './backend/local.js';
export { SlurmRunner } from './backend/slurm.js';
export { runJob, type RunJobOptions, type JobOutcome } from './backend/runJob.js';
export { distributedPermute, planPermutationJob, runTaskFile } from './backend/permuteTasks.js';
export { jobStates, cancelJobs } from './backend/status.js';
export { backendTasks } from './backend/pipelineTasks.js';
export { submitReduce } from './backend/reduceJob.js';

/** `vbm run` as a library call: every model's stages; a `backend` runs on src/backend's tasks unless `tasks` is given. */
export function runPipeline(spec: AnalysisSpec, opts: PipelineOptions = {}): ReturnType<typeof runPipelineStages> {
  return runPipelineStages(spec, { tasks: backendTasks(), ...opts });
}
export { fileErrorAsVbmError } from './errors.js';
export { toCsv, csvCell, type CsvCell } from './io/csv.js';
export { readMatVariables } from './io/matlab.js';
// The work seam (issue 12): the pure permutation test with its services handed in, and the thread pool
export { runPermutationTest, type PermutationServices } from './permutation/permutationTest.js';
export { gemmModule, planScheme, type SchemePlan } from './permutation/permute.js';
export type { WorkBatch, WorkModule, WorkRunner } from './work.js';
export { ThreadPool } from './node/threadPool.js';
export {
  VOCABULARY,
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
} from './settings/vocabulary.js';
export {
  type Setting,
  type SettingKind,
  type Origin,
  settingName,
  readSetting,
  defaultOf,
  parseByteSize,
} from './settings/setting.js';
