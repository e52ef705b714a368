/**
 * The note on approximation carried by each row of `vbm permute`'s cluster table
 * (perm_000k_clusters.csv): which of the row's p-value columns were approximated under `--accel`,
 * and how. The JSON, the map headers, the terminal summary and the report carry the longer note
 * of the test (AccelReport.note); the CSV gets this shorter one (no comma: a cell split at commas
 * still reads it) in a last column, `p_approximation`,
 * present only when `--accel` was given, so an exact run's table keeps the columns it always had.
 */
import type { AccelReport } from '../permutation/types.js';

/** The columns of the table that hold FWE p-values, and the null maxima each is taken from. */
const FWE_COLUMNS = [
  { column: 'peak_p_FWE', family: 'stat' },
  { column: 'tfce_p_FWE', family: 'tfce' },
  { column: 'p_FWE_extent', family: 'extent' },
  { column: 'p_FWE_mass', family: 'mass' },
] as const;

/**
 * The cell for every row of an accelerated run's table, or null for an exact run (no column).
 * `present` says which families the run computed (TFCE, clusters); the uncorrected tail has no
 * column in the table, so it is not named here.
 */
export function clusterTableNote(
  accel: AccelReport | null,
  permutations: number,
  present: { tfce: boolean; clusters: boolean },
): string | null {
  if (!accel) return null;
  const has = (f: (typeof FWE_COLUMNS)[number]['family']): boolean =>
    f === 'stat' || (f === 'tfce' ? present.tfce : present.clusters);
  const parts: string[] = [];
  if (accel.tail) {
    const tail = accel.tail;
    const cols = FWE_COLUMNS.filter((c) => has(c.family) && tail[c.family] !== null).map((c) => c.column);
    parts.push(
      cols.length
        ? `${cols.join(' ')} below 0.1 from a generalised Pareto tail fitted to the null maxima (the rest counted)`
        : 'FWE p-values counted (no tail of the null maxima passed the goodness-of-fit test)',
    );
  }
  if (accel.gamma) {
    const gamma = accel.gamma;
    const cols = FWE_COLUMNS.filter((c) => has(c.family) && gamma[c.family] !== null).map((c) => c.column);
    parts.push(
      cols.length
        ? `${cols.join(' ')} from a gamma distribution fitted to the null maxima's moments`
        : 'FWE p-values counted (the null maxima had no spread to fit a gamma distribution)',
    );
  }
  if (accel.stop)
    parts.push(
      accel.stop.stoppedEarly
        ? `sequential stopping: counted over ${accel.stop.done} of ${accel.stop.requested} rearrangements`
        : `sequential stopping did not stop: all ${permutations} rearrangements done`,
    );
  return parts.join('; ');
}
