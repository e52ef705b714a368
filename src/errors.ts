/**
 * The one error type vbm throws for bad input. `message` says what is wrong and names the
 * file, row or column; `hint` says how to fix it. The CLI prints both and exits non-zero.
 */
export class VbmError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'VbmError';
    this.hint = hint;
  }
}

export function describeError(err: unknown): string {
  if (err instanceof VbmError) return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
