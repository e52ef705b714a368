/**
 * Generates the grey-matter template vbm ships (data/templates/icbm152_2009a_gm_2mm.nii.gz), once,
 * from the ICBM 2009a nonlinear symmetric grey-matter probability map (1 mm; McGill's notice in
 * data/templates/NOTICE.icbm152.txt). Each 2 mm voxel is the mean of the 1 mm map over the voxel's
 * cube (trilinear samples at 4x4x4 points inside it), stored as uint8 with slope 1/255 so the
 * values read back as probabilities in [0, 1]. The grid is the standard MNI 2 mm one (91x109x91,
 * world (0,0,0) at voxel (45,63,36)), stored RAS.
 *
 *   npx tsc -p . && node dist/scripts/make-template.js ../shared/data/templates/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readVolume } from '../src/node/nifti/read.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { worldSampler } from '../src/plot/sampling.js';
import { applyAffine } from '../src/io/nifti/affine.js';

const src = process.argv[2] ?? '../shared/data/templates/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz';
const out = resolve(process.argv[3] ?? 'data/templates/icbm152_2009a_gm_2mm.nii.gz');
const v = readVolume(src);
const sample = worldSampler(v, 'linear');
// the source stores probability x 255 without a slope: bring it to [0, 1]
let top = 0;
for (const x of v.data) if (x > top) top = x;
const unit = top > 1.5 ? 1 / 255 : 1;
const dims: [number, number, number] = [91, 109, 91];
const affine = [
  [2, 0, 0, -90],
  [0, 2, 0, -126],
  [0, 0, 2, -72],
  [0, 0, 0, 1],
];
const data = new Float32Array(dims[0] * dims[1] * dims[2]);
const offs = [-0.75, -0.25, 0.25, 0.75];
let n = 0;
for (let k = 0; k < dims[2]; k++)
  for (let j = 0; j < dims[1]; j++)
    for (let i = 0; i < dims[0]; i++, n++) {
      const [x, y, z] = applyAffine(affine, i, j, k);
      let s = 0;
      for (const a of offs)
        for (const b of offs)
          for (const c of offs) {
            const w = sample(x + a, y + b, z + c);
            if (Number.isFinite(w)) s += w;
          }
      data[n] = Math.min(1, Math.max(0, (s / 64) * unit));
    }
const bytes = encodeNifti(
  { dims, affine, data },
  { datatype: DT.UINT8, slope: 1 / 255, gzip: true, gzipLevel: 9, descrip: 'ICBM152 2009a sym GM prob, 2mm (McGill)' },
);
writeFileSync(out, bytes);
process.stdout.write(`${out}: ${bytes.length} bytes\n`);
