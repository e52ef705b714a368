/**
 * Pictures are checked for what they show, read back with an independent PNG decoder (pngjs):
 * a planted blob's voxels are coloured exactly where the test's own world-to-voxel arithmetic
 * puts them, nothing at or below the threshold is coloured, the same data stored LAS and RAS
 * gives the same pixels, a background on another grid lands at its mm position, and the design
 * matrix's greys are each column scaled to its range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { Volume } from '../src/io/nifti/volume.js';
import { mniLikeAffine } from '../src/synth/phantom.js';
import { chooseCuts, plotGlassBrain, plotStatMap } from '../src/plot/statMap.js';
import { plotDesignMatrix } from '../src/plot/designMatrix.js';
import type { Box } from '../src/plot/sampling.js';
import { shippedTemplate } from '../src/plot/background.js';

const DIMS: [number, number, number] = [40, 48, 40];
const VOX = 3;
const RIGHT_BLOB = [30, -18, 12];
const LEFT_BLOB = [-30, -18, 12];
const R = 9;

/** The planted truth at a voxel centre: 5 in the right blob, 3.0 (below 3.1) in the left one, 3.1 exactly on one voxel, 1 elsewhere in an ellipsoid, NaN outside. */
function truthAt(x: number, y: number, z: number): number {
  if ((x / 55) ** 2 + ((y + 18) / 70) ** 2 + ((z - 10) / 50) ** 2 > 1) return NaN;
  if (Math.hypot(x - RIGHT_BLOB[0], y - RIGHT_BLOB[1], z - RIGHT_BLOB[2]) <= R) return 5;
  if (Math.hypot(x - LEFT_BLOB[0], y - LEFT_BLOB[1], z - LEFT_BLOB[2]) <= R) return 3.0;
  if (Math.abs(x) < 1.6 && Math.abs(y - 0) < 1.6 && Math.abs(z - 12) < 1.6) return 3.1;
  return 1;
}

/** A volume on an MNI-like 3 mm grid stored LAS or RAS, its values given per voxel-centre mm. */
function volumeOf(storage: 'LAS' | 'RAS', f: (x: number, y: number, z: number) => number): Volume {
  const A = mniLikeAffine(DIMS, VOX, storage);
  const data = new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]);
  let n = 0;
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++)
      for (let i = 0; i < DIMS[0]; i++, n++)
        data[n] = f(A[0][0] * i + A[0][3], A[1][1] * j + A[1][3], A[2][2] * k + A[2][3]);
  return { dims: DIMS, affine: A, data };
}

/** The test's own nearest-voxel lookup on the diagonal grid; undefined when a coordinate sits on a voxel boundary (either side is right). */
function nearestTruth(storage: 'LAS' | 'RAS', x: number, y: number, z: number): number | undefined {
  const A = mniLikeAffine(DIMS, VOX, storage);
  const c = [(x - A[0][3]) / A[0][0], (y - A[1][3]) / A[1][1], (z - A[2][3]) / A[2][2]];
  if (c.some((v) => Math.abs(v - Math.floor(v) - 0.5) < 1e-6)) return undefined;
  const [i, j, k] = c.map(Math.round);
  if (i < 0 || j < 0 || k < 0 || i >= DIMS[0] || j >= DIMS[1] || k >= DIMS[2]) return NaN;
  return truthAt(A[0][0] * i + A[0][3], A[1][1] * j + A[1][3], A[2][2] * k + A[2][3]);
}

function decode(png: Buffer): PNG {
  return PNG.sync.read(png);
}

const isColoured = (img: PNG, x: number, y: number): boolean => {
  const o = (y * img.width + x) * 4;
  return img.data[o] !== img.data[o + 1] || img.data[o + 1] !== img.data[o + 2];
};

const BOX: Box = [
  [-60, 60],
  [-92, 56],
  [-44, 64],
];
const SCALE = { threshold: 3.1, vmax: 5, sign: 'pos' as const };
const PX_PER_MM = 1.7;

test('slices: the planted blob is coloured exactly at its voxels, on the right; nothing at or below threshold is', () => {
  for (const storage of ['LAS', 'RAS'] as const) {
    const stat = volumeOf(storage, truthAt);
    const fig = plotStatMap({ stat, box: BOX, scale: SCALE, display: 'z', coords: [10.5, 1.5], pxPerMm: PX_PER_MM });
    const img = decode(fig.png);
    assert.equal(img.width, fig.width);
    let coloured = 0;
    let checked = 0;
    let sumX = 0;
    for (const [p, z] of [
      [0, 10.5],
      [1, 1.5],
    ] as const) {
      const at = fig.panels[p];
      for (let py = 0; py < at.height; py++)
        for (let px = 0; px < at.width; px++) {
          // cuts through voxel centres (z = 3k - 40.5); the display convention, by hand: subject's left on the left, anterior at the top
          const x = BOX[0][0] + (px + 0.5) / PX_PER_MM;
          const y = BOX[1][1] - (py + 0.5) / PX_PER_MM;
          const t = nearestTruth(storage, x, y, z);
          if (t === undefined) continue;
          checked++;
          const c = isColoured(img, at.x + px, at.y + py);
          assert.equal(
            c,
            t > 3.1,
            `${storage} panel ${p} pixel ${px},${py} (x=${x.toFixed(1)}, y=${y.toFixed(1)}): truth ${t}, coloured ${c}`,
          );
          if (c) {
            coloured++;
            sumX += x;
            // the blob's value is the top of the scale: yellow
            const o = ((at.y + py) * img.width + at.x + px) * 4;
            assert.deepEqual([...img.data.subarray(o, o + 3)], [255, 255, 40]);
          }
        }
    }
    assert.ok(checked > 10000, `checked ${checked} pixels`);
    assert.ok(coloured > 300, `${coloured} coloured pixels`);
    assert.ok(sumX / coloured > 20, `the blob is drawn on the right: mean x ${sumX / coloured}`);
  }
});

test('slices and glass brain: LAS and RAS storage of the same data give identical pixels', () => {
  const bgf = (x: number, y: number, z: number): number => 50 + x + 0.5 * y - 0.2 * z;
  const out = (['LAS', 'RAS'] as const).map((s) => {
    const stat = volumeOf(s, truthAt);
    const bg = volumeOf(s, bgf);
    const slices = plotStatMap({
      stat,
      background: bg,
      box: BOX,
      scale: { ...SCALE, sign: 'both' },
      display: 'ortho',
      coords: [30, -18, 12],
      title: 'orientation',
    });
    const mask = volumeOf(s, (x, y, z) => (Number.isNaN(truthAt(x, y, z)) ? 0 : 1));
    const glass = plotGlassBrain({ stat, outline: mask, box: BOX, scale: SCALE });
    return { slices: decode(slices.png), glass: decode(glass.png) };
  });
  assert.ok(Buffer.compare(out[0].slices.data, out[1].slices.data) === 0, 'ortho slices differ between LAS and RAS');
  assert.ok(Buffer.compare(out[0].glass.data, out[1].glass.data) === 0, 'glass brains differ between LAS and RAS');
});

test('glass brain: a pixel is coloured exactly when its ray meets a voxel above threshold; the outline is grey', () => {
  const stat = volumeOf('LAS', truthAt);
  const mask = volumeOf('LAS', (x, y, z) => (Number.isNaN(truthAt(x, y, z)) ? 0 : 1));
  const fig = plotGlassBrain({ stat, outline: mask, box: BOX, scale: SCALE, pxPerMm: PX_PER_MM });
  const img = decode(fig.png);
  const A = mniLikeAffine(DIMS, VOX, 'LAS');
  // axial view (third panel): project along z by hand
  const at = fig.panels[2];
  let coloured = 0;
  let silhouette = 0;
  for (let py = 0; py < at.height; py++)
    for (let px = 0; px < at.width; px++) {
      const x = BOX[0][0] + (px + 0.5) / PX_PER_MM;
      const y = BOX[1][1] - (py + 0.5) / PX_PER_MM;
      const ci = (x - A[0][3]) / A[0][0];
      const cj = (y - A[1][3]) / A[1][1];
      if ([ci, cj].some((v) => Math.abs(v - Math.floor(v) - 0.5) < 1e-6)) continue;
      const i = Math.round(ci);
      const j = Math.round(cj);
      let above = false;
      let inside = false;
      if (i >= 0 && j >= 0 && i < DIMS[0] && j < DIMS[1])
        for (let k = 0; k < DIMS[2]; k++) {
          const z = A[2][2] * k + A[2][3];
          if (z < BOX[2][0] || z > BOX[2][1]) continue;
          const t = truthAt(A[0][0] * i + A[0][3], A[1][1] * j + A[1][3], z);
          if (t > 3.1) above = true;
          if (!Number.isNaN(t)) inside = true;
        }
      const o = ((at.y + py) * img.width + at.x + px) * 4;
      const c = isColoured(img, at.x + px, at.y + py);
      assert.equal(c, above, `axial MIP pixel ${px},${py}`);
      if (c) coloured++;
      else if (inside) {
        silhouette++;
        assert.ok([232, 110].includes(img.data[o]), `silhouette pixel ${px},${py} is ${img.data[o]}`);
      } else assert.equal(img.data[o], 255, `outside pixel ${px},${py} is white`);
    }
  assert.ok(coloured > 300 && silhouette > 5000, `${coloured} coloured, ${silhouette} silhouette pixels`);
});

test('a background on another grid (2 mm RAS, other origin) is drawn at its mm positions', () => {
  const stat = volumeOf('LAS', truthAt);
  const dims: [number, number, number] = [70, 80, 60];
  const affine = [
    [2, 0, 0, -71],
    [0, 2, 0, -101],
    [0, 0, 2, -51],
    [0, 0, 0, 1],
  ];
  const inCube = (x: number, y: number, z: number): boolean =>
    x >= -20 && x <= 0 && y >= -10 && y <= 10 && z >= 0 && z <= 20;
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let n = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, n++) data[n] = inCube(2 * i - 71, 2 * j - 101, 2 * k - 51) ? 100 : 10;
  const fig = plotStatMap({
    stat,
    background: { dims, affine, data },
    backgroundWindow: [0, 100],
    box: BOX,
    scale: { ...SCALE, threshold: 100 },
    display: 'z',
    coords: [10],
    pxPerMm: PX_PER_MM,
  });
  const img = decode(fig.png);
  const at = fig.panels[0];
  let bright = 0;
  for (let py = 0; py < at.height; py++)
    for (let px = 0; px < at.width; px++) {
      const x = BOX[0][0] + (px + 0.5) / PX_PER_MM;
      const y = BOX[1][1] - (py + 0.5) / PX_PER_MM;
      const o = ((at.y + py) * img.width + at.x + px) * 4;
      // away from the cube's faces by more than one background voxel, interpolation is flat
      const deep = x >= -18 && x <= -2 && y >= -8 && y <= 8;
      const far = x < -22 || x > 2 || y < -12 || y > 12;
      if (deep) {
        assert.equal(img.data[o], 255, `inside the cube at x=${x.toFixed(1)}, y=${y.toFixed(1)}`);
        bright++;
      } else if (far && x > -70 && x < 68 && y > -100 && y < 57)
        assert.equal(img.data[o], 26, `outside the cube at x=${x.toFixed(1)}, y=${y.toFixed(1)}`);
    }
  assert.ok(bright > 600, `${bright} pixels inside the cube`);
});

test('design matrix: each column scaled to its own range, constant columns white, contrasts drawn above', () => {
  const fig = plotDesignMatrix({
    columns: ['mean', 'age', 'group'],
    matrix: [
      [1, -10, 0],
      [1, 0, 1],
      [1, 10, 0],
      [1, 5, 1],
    ],
    contrasts: [{ index: 1, name: 'age <b>&</b>', type: 'T', weights: [[0, 1, 0]] }],
  });
  const img = decode(fig.png);
  const m = fig.matrix;
  const expected = [
    [255, 0, 0],
    [255, 128, 255],
    [255, 255, 0],
    [255, 191, 255],
  ];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 3; j++) {
      const x = m.x + j * m.columnWidth + Math.floor(m.columnWidth / 2);
      const y = m.y + i * m.rowHeight + Math.floor(m.rowHeight / 2);
      const o = (y * img.width + x) * 4;
      assert.deepEqual(
        [img.data[o], img.data[o + 1], img.data[o + 2]],
        [expected[i][j], expected[i][j], expected[i][j]],
        `cell ${i},${j}`,
      );
    }
  // the contrast's bar stands over the age column only: dark pixels above the matrix in column 2, none over 1 and 3
  const darkIn = (j: number): number => {
    let d = 0;
    for (let y = 0; y < m.y - 60; y++)
      for (let x = m.x + j * m.columnWidth + 4; x < m.x + (j + 1) * m.columnWidth - 4; x++)
        if (img.data[(y * img.width + x) * 4] < 100) d++;
    return d;
  };
  assert.ok(darkIn(1) > 20, 'bar over age');
  assert.equal(darkIn(0), 0);
  assert.equal(darkIn(2), 0);
});

/**
 * Cut choice (issue 18): clusters planted at known z must be in the picture. The truth: a pair
 * of "hippocampal" spheres at z = -16 (T 7.5, the strongest), a sphere at z = 22 (T 5), a
 * negative one at z = 40 (T -6) and a weak one at z = 48 (T 4.5), radius 7 mm, on the 3 mm LAS grid.
 */
const PLANTED_CLUSTERS = [
  { c: [-26, -20, -16], t: 7.5 },
  { c: [26, -20, -16], t: 7.5 },
  { c: [10, 20, 22], t: 5 },
  { c: [-20, -50, 40], t: -6 },
  { c: [15, 0, 48], t: 4.5 },
];
function plantedAt(x: number, y: number, z: number): number {
  if ((x / 55) ** 2 + ((y + 18) / 70) ** 2 + ((z - 10) / 50) ** 2 > 1) return NaN;
  for (const p of PLANTED_CLUSTERS) {
    // peaked at the centre (the peak is the centre voxel), 0.75 of the peak at the rim: all above 3.1
    const d = Math.hypot(x - p.c[0], y - p.c[1], z - p.c[2]);
    if (d <= 7) return p.t * (1 - (0.25 * d) / 7);
  }
  return 0.5;
}

/** Whether the picture shows the planted cluster: some panel cuts it and the pixel at its centre's (x, y), found by the test's own mm arithmetic, is coloured. */
function clusterShown(
  fig: { png: Buffer; panels: { x: number; y: number }[] },
  coords: number[],
  c: number[],
  img: PNG,
): boolean {
  return coords.some((z, p) => {
    if (Math.abs(z - c[2]) >= 7) return false;
    const px = Math.floor((c[0] - BOX[0][0]) * PX_PER_MM);
    const py = Math.floor((BOX[1][1] - c[1]) * PX_PER_MM);
    return isColoured(img, fig.panels[p].x + px, fig.panels[p].y + py);
  });
}

test('cuts go through the planted clusters, strongest first, never closer than the FWHM (1, 3 and 8 cuts)', () => {
  const stat = volumeOf('LAS', plantedAt);
  const FWHM = 12;
  const scale = { threshold: 3.1, vmax: 7.5, sign: 'both' as const };
  for (const [n, expectShown] of [
    [1, [0, 1]],
    [3, [0, 1, 2, 3]],
    [8, [0, 1, 2, 3, 4]],
  ] as [number, number[]][]) {
    const coords = chooseCuts(stat, scale, BOX, 'z', n, FWHM);
    assert.ok(coords.length <= n && coords.length >= Math.min(n, 1), `${n} cuts asked, got ${String(coords)}`);
    for (let i = 1; i < coords.length; i++)
      assert.ok(coords[i] - coords[i - 1] >= FWHM - 1e-6, `cuts ${String(coords)} closer than ${FWHM} mm`);
    const fig = plotStatMap({ stat, box: BOX, scale, display: 'z', coords, pxPerMm: PX_PER_MM });
    const img = decode(fig.png);
    for (const k of expectShown)
      assert.ok(
        clusterShown(fig, coords, PLANTED_CLUSTERS[k].c, img),
        `${n} cuts at ${String(coords)}: planted cluster at ${String(PLANTED_CLUSTERS[k].c)} is not in the picture`,
      );
    if (n === 8)
      assert.ok(coords.length >= 6, `8 cuts asked over 82 mm with 12 mm spacing: got only ${String(coords)}`);
    // the negative cluster is drawn cold (blue), the positive ones hot
    if (n >= 3) {
      const p = coords.findIndex((z) => Math.abs(z - 40) <= 5);
      const at = fig.panels[p];
      const o =
        ((at.y + Math.floor((BOX[1][1] + 50) * PX_PER_MM)) * img.width +
          at.x +
          Math.floor((-20 - BOX[0][0]) * PX_PER_MM)) *
        4;
      assert.ok(img.data[o + 2] > img.data[o], 'negative cluster drawn in blue');
    }
  }
  // --sign pos: the negative cluster gets no cut of its own and is not drawn
  const pos = chooseCuts(stat, { ...scale, sign: 'pos' }, BOX, 'z', 3, FWHM);
  assert.ok(
    !pos.some((z) => Math.abs(z - 40) <= 5 && [0, 1, 2, 4].every((k) => Math.abs(z - PLANTED_CLUSTERS[k].c[2]) > 7)),
    `cut ${String(pos)} made for the hidden negative cluster`,
  );
  // the same data stored RAS gets the same cuts (chosen in world mm, not voxel order)
  for (const n of [1, 3, 8])
    assert.deepEqual(
      chooseCuts(volumeOf('RAS', plantedAt), scale, BOX, 'z', n, FWHM),
      chooseCuts(stat, scale, BOX, 'z', n, FWHM),
      `${n} cuts, LAS vs RAS`,
    );
  // the user's cuts win: plotStatMap draws exactly the coordinates given
  const fig = plotStatMap({ stat, box: BOX, scale, display: 'z', coords: [0.5, 30.5], pxPerMm: PX_PER_MM });
  assert.deepEqual(
    fig.grids.map((g) => g.coord),
    [0.5, 30.5],
  );
});

test('glass brain outline: the projected silhouette of the shipped ICBM152 template (test projects the template voxels itself)', () => {
  const t = shippedTemplate();
  // the shipped template is on the MNI 2 mm grid, stored RAS with a diagonal affine: x = 2i - 90, y = 2j - 126, z = 2k - 72
  assert.deepEqual(
    t.affine.slice(0, 3).map((r) => [r[0], r[1], r[2], r[3]]),
    [
      [2, 0, 0, -90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
    ],
  );
  const level = 0.1;
  const box: Box = [
    [-80, 80],
    [-116, 82],
    [-60, 90],
  ];
  const empty = volumeOf('LAS', () => NaN);
  const fig = plotGlassBrain({
    stat: empty,
    outline: t,
    outlineThreshold: level,
    contours: 2,
    box,
    scale: SCALE,
    pxPerMm: 1,
  });
  const img = decode(fig.png);
  const at = fig.panels[2];
  const [nx, ny, nz] = t.dims;
  let inside = 0;
  let checked = 0;
  for (let py = 0; py < at.height; py++)
    for (let px = 0; px < at.width; px++) {
      const x = box[0][0] + px + 0.5;
      const y = box[1][1] - py - 0.5;
      const ci = (x + 90) / 2;
      const cj = (y + 126) / 2;
      if ([ci, cj].some((v) => Math.abs(v - Math.floor(v) - 0.5) < 1e-6)) continue;
      const i = Math.round(ci);
      const j = Math.round(cj);
      let any = false;
      if (i >= 0 && j >= 0 && i < nx && j < ny)
        for (let k = 0; k < nz; k++) {
          const z = 2 * k - 72;
          if (z >= box[2][0] && z <= box[2][1] && t.data[i + nx * (j + ny * k)] > level) any = true;
        }
      const o = ((at.y + py) * img.width + at.x + px) * 4;
      checked++;
      if (any) {
        inside++;
        assert.ok([232, 175, 110].includes(img.data[o]), `axial pixel ${px},${py} inside the brain is ${img.data[o]}`);
      } else assert.equal(img.data[o], 255, `axial pixel ${px},${py} outside the brain is not white`);
    }
  // an axial projection of the brain covers roughly 140 x 175 mm
  assert.ok(checked > 20000 && inside > 15000 && inside < 26000, `${inside} of ${checked} pixels inside`);
});
