/**
 * Preloaded (node --import) into a child vbm process by the hardening tests: reports the
 * process's peak resident set size (getrusage, all threads) on stderr when it exits.
 */
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nVBM_TEST_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
