import { gzipSync } from 'node:zlib';
import { type EncodeOptions, encodeNifti as encodeNiftiBytes } from '../../io/nifti/encode.js';
import type { Volume } from '../../io/nifti/volume.js';

export type { EncodeOptions } from '../../io/nifti/encode.js';

/**
 * Encode a volume as a single-file NIfTI-1 (.nii): 348-byte header, 4 zero extension bytes,
 * data at offset 352. Both qform and sform hold the affine (codes 2, "aligned", as SPM writes),
 * so SPM, FSL and nibabel all read back the same geometry. The bytes are those of the pure
 * encoder (encode.ts); gzip here is node:zlib's.
 */
export function encodeNifti(vol: Volume, opts: EncodeOptions = {}): Uint8Array {
  const out = encodeNiftiBytes(vol, { ...opts, gzip: false });
  return opts.gzip ? gzipSync(out, { level: opts.gzipLevel ?? 6 }) : out;
}
