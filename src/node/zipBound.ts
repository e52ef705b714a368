/**
 * A bound on what a zip archive (an .xlsx is one) inflates to, checked before the archive is
 * handed to a reader that inflates it whole in memory. The central directory lists the
 * entries; each is inflated for real (its declared size may lie) with node:zlib's output
 * limit, so no more than the bound is ever held, and the inflated bytes are dropped at once.
 */
import { inflateRawSync } from 'node:zlib';
import { VbmError } from '../errors.js';

/** A design sheet of 100,000 rows is a few MB of XML; 64 MB leaves room for styles, images and other sheets. */
export const XLSX_MAX_INFLATED_BYTES = 64 * 2 ** 20;
/** The .xlsx file itself. */
export const XLSX_MAX_FILE_BYTES = 64 * 2 ** 20;

export function checkZipInflation(bytes: Uint8Array, path: string, limit = XLSX_MAX_INFLATED_BYTES): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): VbmError =>
    new VbmError(`${path}: not a readable .xlsx (zip) file (${why})`, 'save it again as .xlsx, or export it as .csv');
  // end of central directory: the last 22 bytes, or earlier when there is a comment
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 65535); o--) {
    if (v.getUint32(o, true) === 0x06054b50) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) throw bad('no zip directory at its end; the file is truncated or not an .xlsx');
  const entries = v.getUint16(eocd + 10, true);
  const cdOffset = v.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdOffset === 0xffffffff) throw tooLarge(path, limit, 'a zip64 archive');
  let o = cdOffset;
  let total = 0;
  for (let i = 0; i < entries; i++) {
    if (o + 46 > bytes.length || v.getUint32(o, true) !== 0x02014b50) throw bad('its zip directory is damaged');
    const method = v.getUint16(o + 10, true);
    const compressed = v.getUint32(o + 20, true);
    const declared = v.getUint32(o + 24, true);
    const nameLen = v.getUint16(o + 28, true);
    const extraLen = v.getUint16(o + 30, true);
    const commentLen = v.getUint16(o + 32, true);
    const local = v.getUint32(o + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(o + 46, o + 46 + nameLen));
    o += 46 + nameLen + extraLen + commentLen;
    if (compressed === 0xffffffff || declared === 0xffffffff) throw tooLarge(path, limit, `entry ${name} is zip64`);
    if (total + declared > limit) throw tooLarge(path, limit, `entry ${name} declares ${declared} bytes`);
    if (local + 30 > bytes.length || v.getUint32(local, true) !== 0x04034b50) throw bad(`entry ${name} is damaged`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    if (start + compressed > bytes.length) throw bad(`entry ${name} runs past the end of the file`);
    let size: number;
    if (method === 0) size = compressed;
    else if (method === 8) {
      try {
        size = inflateRawSync(bytes.subarray(start, start + compressed), {
          maxOutputLength: Math.max(1, limit - total),
        }).length;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
          throw tooLarge(path, limit, `entry ${name} inflates beyond it`);
        throw bad(`entry ${name} cannot be inflated: ${(e as Error).message}`);
      }
    } else continue; // another method: the reader will say it cannot read it
    total += size;
    if (total > limit) throw tooLarge(path, limit, `entry ${name}`);
  }
}

function tooLarge(path: string, limit: number, what: string): VbmError {
  return new VbmError(
    `${path}: the spreadsheet inflates to more than ${limit / 2 ** 20} MB (${what}); a design sheet of 100,000 rows is a few MB`,
    'the file is not a plain design sheet (a zip bomb, or large embedded objects); export the design sheet alone as .csv or .xlsx',
  );
}
