/**
 * The report's "Sample homogeneity" section, from what `vbm check` (or the check stage) left in
 * the folder: check.json and check.png. Nothing when the check was not run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Html, html, pngImage, table } from './html.js';
import { CHECK_JSON, CHECK_PNG, type CheckSummary } from '../check/summary.js';

export function checkSection(dir: string): Html {
  const jsonPath = join(dir, CHECK_JSON);
  if (!existsSync(jsonPath)) return new Html('');
  let s: CheckSummary;
  try {
    s = JSON.parse(readFileSync(jsonPath, 'utf8')) as CheckSummary;
    if (s.format !== 'vbm-check') return new Html('');
  } catch {
    return html`<section id="check"><h2>Sample homogeneity</h2><p class="empty">${CHECK_JSON} is unreadable; run vbm check again.</p></section>`;
  }
  const pngPath = join(dir, CHECK_PNG);
  const flagged = s.perScan.filter((v) => v.flagged).sort((a, b) => a.rank - b.rank);
  const f3 = (x: number): string => x.toFixed(3);
  return html`<section id="check"><h2>Sample homogeneity</h2>
<p>${s.scans} scans compared over ${s.voxels} voxels${s.globals ? `, after proportional scaling by '${s.globals}'` : ''}${s.nuisance.length ? `, with ${s.nuisance.join(', ')} regressed out` : ''}:
each scan's mean correlation with the other scans, and the quartic mean of its Z-scores (its deviation from the sample mean at each voxel, in SDs; the 4th power lets a few bad regions stand out).</p>
<p>Rule: ${s.rule}. Mean correlation median ${f3(s.meanCorrelation.median)} (flagged below ${f3(s.meanCorrelation.threshold)}); quartic mean Z median ${f3(s.quarticZ.median)} (flagged above ${f3(s.quarticZ.threshold)}).</p>
${existsSync(pngPath) ? html`<figure>${pngImage(readFileSync(pngPath), 'sample homogeneity box plots', { className: 'design' })}<figcaption>Box plots of both measures; every dot a scan; flagged scans red and named (row: file).</figcaption></figure>` : ''}
${
  flagged.length
    ? html`<p class="empty">${flagged.length} scan(s) flagged, most extreme first. Look at them before trusting the model; flagged does not mean exclude.</p>${table(
        ['rank', 'row', 'scan', 'mean correlation', 'quartic mean Z', 'reason'],
        flagged.map((v) => [
          v.rank,
          v.row + 1,
          v.scan,
          f3(v.meanCorrelation),
          f3(v.quarticZ),
          `${v.reasons.join(', ')} (${Math.max(v.correlationDeviation, v.zDeviation).toFixed(1)} SD)`,
        ]),
        { id: 'check-flagged' },
      )}`
    : html`<p>No scan is flagged.</p>`
}
</section>`;
}
