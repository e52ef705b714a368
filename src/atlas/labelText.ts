/**
 * Label tables from text (pure): region names by code, from rows already split (CSV/TSV, parsed
 * by the Node shell's labelTable.ts with csv-parse), mricron's `.txt` or FSL's atlas XML.
 */
import { VbmError } from '../errors.js';

/** Region names by code, as read from a label table; `format` says which convention applied. */
export interface LabelTable {
  names: Map<number, string>;
  format: 'csv' | 'tsv' | 'mricron-txt' | 'fsl-xml';
  /** FSL XML: image files named in the header, relative to the XML's folder. */
  images?: string[];
  /** FSL XML: 'Label' (3-D codes = index + 1) or 'Probabilistic' (4-D, volume = index). */
  fslType?: string;
}

/** A label table from rows of `index, name` (a header row is optional). `path` names it in messages. */
export function labelTableFromRows(rows: string[][], path: string, format: LabelTable['format']): LabelTable {
  const names = new Map<number, string>();
  rows.forEach((parts, i) => {
    const code = Number(parts[0]);
    if (!Number.isFinite(code)) {
      if (i === 0) return; // header row
      throw new VbmError(
        `${path}, line ${i + 1}: '${parts[0]}' is not a numeric label code`,
        'each line must start with the integer value of the region in the atlas image',
      );
    }
    const name = parts[1];
    if (!name) throw new VbmError(`${path}, line ${i + 1}: code ${code} has no name`);
    if (names.has(code)) throw new VbmError(`${path}, line ${i + 1}: code ${code} appears twice`);
    names.set(code, name);
  });
  if (names.size === 0)
    throw new VbmError(
      `${path}: no labels found`,
      'expected lines of "index,name" (CSV/TSV) or "index name" (mricron .txt)',
    );
  return { names, format };
}

/**
 * A label table from its text: FSL's atlas XML (`<label index="0" ...>Name</label>`), or
 * mricron's `.txt` (`index name [other]`, whitespace-separated, as in aal.nii.txt).
 */
export function parseLabelText(text: string, path: string): LabelTable {
  const t = text.replace(/^\uFEFF/, '');
  if (/\.xml$/i.test(path) || /^\s*<\?xml|<atlas/i.test(t)) return parseFslXml(path, t);
  const rows = t
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
  return labelTableFromRows(rows, path, 'mricron-txt');
}

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

export function parseFslXml(path: string, text: string): LabelTable {
  const names = new Map<number, string>();
  // both groups always take part in a match
  for (const [, index = '', name = ''] of text.matchAll(/<label\b[^>]*\bindex="(\d+)"[^>]*>([^<]*)<\/label>/g))
    names.set(Number(index), decodeXml(name.trim()));
  if (names.size === 0) throw new VbmError(`${path}: no <label index="..."> entries in the FSL atlas XML`);
  const images = [...text.matchAll(/<imagefile>([^<]+)<\/imagefile>/g)].map(([, file = '']) => file.trim());
  const fslType = /<type>([^<]+)<\/type>/.exec(text)?.[1]?.trim();
  return { names, format: 'fsl-xml', images, fslType };
}
