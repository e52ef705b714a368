import { describeError } from '../errors.js';

/**
 * Run long work that Ctrl-C (or SIGTERM) interrupts gracefully: the first signal aborts the
 * given AbortSignal (the work stops at its next safe point and saves what it can), a second
 * quits at once. An interrupted run exits with 130, as shells expect.
 */
export async function interruptible<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\ninterrupting: ${what} (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } catch (e) {
    if (controller.signal.aborted) {
      process.stderr.write(`vbm: ${describeError(e)}\n`);
      process.exit(130);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
