/**
 * The local backend: a job's tasks run as child processes of the submitting command
 * (`node vbm task FILE`), at most `jobs` at a time, each logging to the task's log file. It runs
 * exactly the task files the Slurm backend submits, so the whole task path is tested without Slurm.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { type ActiveState, type Submitted, type TaskRunner, cliScript } from './backend.js';
import { type JobFolder, logPath, taskPath } from './taskFiles.js';

/** Runs tasks as child processes on this machine (`vbm task FILE`), `slots` at a time. */
export class LocalRunner implements TaskRunner {
  readonly type = 'local' as const;
  private readonly queue: { job: JobFolder; task: number }[] = [];
  private readonly running = new Map<string, { job: JobFolder; task: number; child: ChildProcess }>();
  private counter = 0;

  /** `slots`: tasks run at once; each gets an equal share of the cores as worker threads. */
  constructor(private readonly slots: number) {}

  submit(job: JobFolder, tasks: number[]): Promise<Submitted> {
    for (const task of tasks) this.queue.push({ job, task });
    this.pump();
    return Promise.resolve({ id: `local-${process.pid}-${++this.counter}` });
  }

  private pump(): void {
    while (this.running.size < this.slots && this.queue.length) {
      const { job, task } = this.queue.shift()!;
      const log = logPath(job, task);
      mkdirSync(dirname(log), { recursive: true });
      const fd = openSync(log, 'a');
      const workers = Math.max(1, Math.floor(availableParallelism() / this.slots));
      const child = spawn(process.execPath, [cliScript(), 'task', taskPath(job, task), '--workers', String(workers)], {
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      const key = `${job.dir}#${task}`;
      this.running.set(key, { job, task, child });
      const done = (): void => {
        if (this.running.get(key)?.child !== child) return;
        this.running.delete(key);
        this.pump();
      };
      child.on('exit', done);
      child.on('error', done);
    }
  }

  active(job: JobFolder): Promise<Map<number, ActiveState>> {
    const out = new Map<number, ActiveState>();
    for (const q of this.queue) if (q.job.dir === job.dir) out.set(q.task, 'pending');
    for (const r of this.running.values()) if (r.job.dir === job.dir) out.set(r.task, 'running');
    return Promise.resolve(out);
  }

  cancel(job: JobFolder): Promise<void> {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].job.dir === job.dir) this.queue.splice(i, 1);
    for (const r of this.running.values()) if (r.job.dir === job.dir) r.child.kill('SIGTERM');
    return Promise.resolve();
  }

  /** Process ids of the running tasks (tests stop one to show the retry). */
  pids(job: JobFolder): Map<number, number> {
    const out = new Map<number, number>();
    for (const r of this.running.values()) if (r.job.dir === job.dir && r.child.pid) out.set(r.task, r.child.pid);
    return out;
  }
}
