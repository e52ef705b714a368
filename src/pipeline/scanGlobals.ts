/**
 * SPM's mean globals for the pipeline, remembered in vbm-stages.json by scan content (content hash and
 * volume), so that a cached re-run does not read every scan again just to rebuild the design.
 */
import { computeScanGlobals } from '../estimation/globals.js';
import { type StagesFile, scanFingerprint } from './stages.js';

export async function cachedScanGlobals(
  state: StagesFile & { globals?: Record<string, number> },
  scans: string[],
  onProgress?: (d: number, t: number) => void,
): Promise<number[]> {
  // a 4-D file named on several rows without an index gives its volumes in order: the occurrence tells them apart
  const seen = new Map<string, number>();
  const keys = scans.map((s) => {
    const m = /^(.*),(\d+)$/.exec(s);
    const file = m ? m[1] : s;
    const k = seen.get(s) ?? 0;
    seen.set(s, k + 1);
    return `${scanFingerprint(state, file)}:${m ? m[2] : `#${k}`}`;
  });
  const cache = (state.globals ??= {});
  if (keys.every((k) => cache[k] !== undefined)) return keys.map((k) => cache[k]);
  const values = await computeScanGlobals(scans, onProgress);
  keys.forEach((k, i) => (cache[k] = values[i]));
  return values;
}
