/**
 * What the pipeline needs from a task backend, declared here and implemented above it
 * (src/backend/pipelineTasks.ts): the fit's sums and a contrast's permutation test computed as
 * tasks. The pipeline is handed one (PipelineOptions.tasks) and never imports src/backend/.
 */
import { VbmError } from '../errors.js';
import type { FitSums } from '../estimation/accumulate.js';
import type { FitJob, ScanReport } from '../estimation/fitJob.js';
import type { BackendSettings } from './backendSettings.js';
import type { PermuteOutput, PermuteRequest } from './permute.js';

export interface TaskCallbacks {
  signal?: AbortSignal;
  /** What reruns the missing tasks (shown when tasks fail), e.g. the user's command. */
  rerun?: string;
  /** Interrupted while waiting for Slurm tasks: whether to cancel them. */
  onInterrupt?: () => Promise<'cancel' | 'leave'>;
  onProgress?: (done: number, total: number) => void;
  onNote?: (message: string) => void;
}

export interface TaskBackend {
  /** The fit's sums, one set per job (one job, or one per variance group), each job's chunks added in order. */
  fitSums(
    analysisDir: string,
    jobs: FitJob[],
    settings: BackendSettings,
    onScan: (r: ScanReport) => void,
    cb: TaskCallbacks,
  ): Promise<FitSums[]>;
  /** One contrast's permutation test as tasks, merged into the files a plain run writes; throws TasksSubmitted when not waiting. */
  permute(
    analysisDir: string,
    req: PermuteRequest,
    settings: BackendSettings,
    cb: TaskCallbacks,
  ): Promise<PermuteOutput>;
}

/** Tasks were submitted and not waited for (--no-wait): not a failure; the outputs come later. */
export class TasksSubmitted extends VbmError {
  constructor(
    message: string,
    hint: string,
    /** The job folders of the submitted tasks. */
    readonly jobDirs: string[],
  ) {
    super(message, hint);
    this.name = 'TasksSubmitted';
  }
}
