import { VbmError, item } from '../errors.js';

/** One scan of the design: a file, and which volume of it (0-based) for 4-D files. */
export interface ScanRef {
  /** Row of the design (0-based). */
  row: number;
  path: string;
  volume: number;
}

/**
 * SPM-style `file.nii,3` names volume 3 (1-based) of a 4-D file; a 4-D file named by several
 * rows without an index gives its volumes to those rows in order.
 */
export function parseScanRefs(paths: string[], volumesOf: (path: string) => number): ScanRef[] {
  const parsed = paths.map((p, row) => {
    const m = /^(.*\.(?:nii|nii\.gz|hdr|hdr\.gz|img|img\.gz)),(\d+)$/i.exec(p);
    const [, file, index] = m ?? [];
    return file !== undefined && index !== undefined
      ? { row, path: file, volume: Number(index) - 1, explicit: true }
      : { row, path: p, volume: 0, explicit: false };
  });
  const byFile = new Map<string, number[]>();
  for (const s of parsed) {
    if (s.explicit) continue;
    const rows = byFile.get(s.path);
    if (rows) rows.push(s.row);
    else byFile.set(s.path, [s.row]);
  }
  for (const [path, rows] of byFile) {
    const nv = volumesOf(path);
    if (nv === 1 && rows.length === 1) continue;
    if (rows.length === nv) rows.forEach((r, k) => (item(parsed, r, 'design rows').volume = k));
    else if (rows.length > 1 || nv > 1) {
      throw new VbmError(
        `${path} holds ${nv} volumes but ${rows.length} row(s) of the design name it without a volume index`,
        `name one row per volume, or write 'file.nii,K' to pick volume K (1-based)`,
      );
    }
  }
  for (const s of parsed) {
    const nv = volumesOf(s.path);
    if (s.volume >= nv || s.volume < 0) {
      throw new VbmError(`design row ${s.row + 1}: volume ${s.volume + 1} of ${s.path} requested, but it holds ${nv}`);
    }
  }
  return parsed.map(({ row, path, volume }) => ({ row, path, volume }));
}
