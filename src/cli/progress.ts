/** Progress on stderr: a redrawn line on a terminal, a line every 10% otherwise (logs, CI). */
export function progressReporter(enabled: boolean): (stage: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY;
  let lastStage = '';
  let lastDecile = -1;
  const start = Date.now();
  return (stage, done, total) => {
    if (!enabled) return;
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    if (tty) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r${stage} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${secs}s`);
      if (done === total) process.stderr.write('\n');
      return;
    }
    const decile = Math.floor((10 * done) / total);
    if (stage !== lastStage || decile !== lastDecile) {
      lastStage = stage;
      lastDecile = decile;
      process.stderr.write(`${stage}: ${done}/${total} (${secs}s)\n`);
    }
  };
}
