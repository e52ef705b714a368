/**
 * The report's interactive viewer: NiiVue (WebGL2), inlined with its data so the report opens
 * from disk with no server and no network. The background and each contrast's statistic map
 * travel as gzipped NIfTI in base64; an atlas, when chosen, travels as its codes resampled onto
 * the statistic grid (nearest voxel in mm) plus the region names, and a click looks the label up
 * from the clicked mm position through the grid's inverse affine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VbmError } from '../errors.js';
import { gzipSync } from 'node:zlib';
import { invertAffine } from '../io/nifti/affine.js';
import { DT } from '../io/nifti/datatypes.js';
import type { Volume } from '../io/nifti/volume.js';
import { encodeNifti } from '../node/nifti/write.js';
import { type Atlas, codesOnGrid, regionName } from '../atlas/atlas.js';
import { esc, Html, scriptJson } from './html.js';

export interface ViewerMap {
  name: string;
  type: 'T' | 'F';
  /** Statistic values (NaN outside the mask is sent as 0, which NiiVue leaves transparent). */
  stat: Volume;
  threshold: number;
  max: number;
  /** Show negative values too (T maps with sign 'both' or 'neg'). */
  negative: boolean;
  /** Where the crosshair starts (mm): the peak shown in the pictures. */
  peak?: number[];
}

export interface ViewerData {
  background?: string;
  backgroundRange?: [number, number];
  maps: {
    name: string;
    type: string;
    nifti: string;
    threshold: number;
    max: number;
    negative: boolean;
    peak?: number[];
  }[];
  atlas?: { name: string; codes: string; dims: number[]; worldToVoxel: number[][]; names: Record<string, string> };
}

function gzBase64(bytes: Uint8Array): string {
  return gzipSync(bytes, { level: 6 }).toString('base64');
}

/** Background as 8-bit grey on its own grid (a display copy: small, and all a viewer needs). */
function backgroundNifti(bg: Volume, window: [number, number]): string {
  const [lo, hi] = window;
  const out = new Uint8Array(bg.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = bg.data[i];
    out[i] = !(v > lo) ? 0 : v >= hi ? 255 : Math.round((255 * (v - lo)) / (hi - lo));
  }
  return gzBase64(
    encodeNifti(
      { dims: bg.dims, affine: bg.affine, data: out },
      { datatype: DT.UINT8, descrip: 'vbm report background (display copy)' },
    ),
  );
}

export function viewerData(
  maps: ViewerMap[],
  background?: { volume: Volume; window: [number, number] },
  atlas?: Atlas,
): ViewerData {
  const out: ViewerData = {
    maps: maps.map((m) => {
      const data = new Float32Array(m.stat.data.length);
      for (let i = 0; i < data.length; i++) data[i] = Number.isFinite(m.stat.data[i]) ? m.stat.data[i] : 0;
      return {
        name: m.name,
        type: m.type,
        nifti: gzBase64(
          encodeNifti({ dims: m.stat.dims, affine: m.stat.affine, data }, { descrip: m.name.slice(0, 79) }),
        ),
        threshold: m.threshold,
        max: m.max,
        negative: m.negative,
        peak: m.peak,
      };
    }),
  };
  if (background) {
    out.background = backgroundNifti(background.volume, background.window);
    out.backgroundRange = [0, 255];
  }
  if (atlas && maps.length) {
    const grid = maps[0].stat;
    const codes = codesOnGrid(atlas, grid.dims, grid.affine);
    const c16 = new Int16Array(codes.length);
    const seen = new Set<number>();
    for (let i = 0; i < codes.length; i++) {
      c16[i] = codes[i];
      if (codes[i] > 0) seen.add(codes[i]);
    }
    const names: Record<string, string> = { '0': regionName(atlas, 0) };
    for (const c of seen) names[String(c)] = regionName(atlas, c);
    out.atlas = {
      name: atlas.name,
      codes: gzBase64(new Uint8Array(c16.buffer)),
      dims: [...grid.dims],
      worldToVoxel: invertAffine(grid.affine).slice(0, 3),
      names,
    };
  }
  return out;
}

let niivueSource: string | undefined;
/** NiiVue's browser bundle, from the installed @niivue/niivue package. */
export function niivueBundle(): string {
  if (niivueSource === undefined) {
    // the package exports only its ES modules; its UMD browser bundle sits in dist/ beside them
    const entry = fileURLToPath(import.meta.resolve('@niivue/niivue'));
    const root = entry.slice(0, entry.lastIndexOf(`${sep}build${sep}`));
    const bundle = join(root, 'dist', 'niivue.umd.js');
    if (!existsSync(bundle))
      throw new VbmError(
        `NiiVue's browser bundle is missing (${bundle})`,
        'reinstall vbm (npm ci), or write the report without the viewer: --no-viewer',
      );
    niivueSource = readFileSync(bundle, 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return niivueSource;
}

/** The viewer's markup, data and scripts. */
export function viewerSection(data: ViewerData): Html {
  const options = data.maps.map((m, i) => `<option value="${i}">${esc(m.name)}</option>`).join('');
  const first = data.maps[0];
  return new Html(`
<div class="viewer">
  <div class="controls">
    <label>Map <select id="nv-map">${options}</select></label>
    <label>Threshold <input id="nv-threshold" type="range" min="0" max="${first ? (first.max * 1.05).toFixed(3) : 1}" step="0.01" value="${first ? first.threshold.toFixed(3) : 0}"></label>
    <output id="nv-threshold-value">${first ? first.threshold.toFixed(2) : ''}</output>
  </div>
  <canvas id="nv-canvas" width="900" height="340"></canvas>
  <p id="nv-location" class="location">Click the map to read the coordinates, the value${data.atlas ? ' and the atlas label' : ''}.</p>
  <p id="nv-status" class="status"></p>
</div>
<script type="application/json" id="vbm-viewer-data">${scriptJson(data)}</script>
<script>${niivueBundle()}</script>
<script>${VIEWER_SCRIPT}</script>`);
}

/** Runs in the browser. Plain ES2020, no modules. */
const VIEWER_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('vbm-viewer-data').textContent);
  var status = document.getElementById('nv-status');
  var info = document.getElementById('nv-location');
  var select = document.getElementById('nv-map');
  var slider = document.getElementById('nv-threshold');
  var shown = document.getElementById('nv-threshold-value');
  var viewerState = { ready: false, map: 0, threshold: NaN };
  window.vbmViewer = viewerState;
  function bytesOf(b64) {
    var s = atob(b64);
    var u = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return u;
  }
  function gunzip(b64) {
    var stream = new Blob([bytesOf(b64)]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).arrayBuffer();
  }
  var probe = document.createElement('canvas');
  if (!probe.getContext('webgl2')) {
    status.textContent = 'This browser has no WebGL2, so the interactive viewer cannot start; the pictures above show the same maps.';
    return;
  }
  var atlasCodes = null;
  function labelAt(mm) {
    if (!data.atlas || !atlasCodes) return '';
    var M = data.atlas.worldToVoxel, d = data.atlas.dims;
    var v = [0, 1, 2].map(function (r) { return Math.round(M[r][0] * mm[0] + M[r][1] * mm[1] + M[r][2] * mm[2] + M[r][3]); });
    var inside = v[0] >= 0 && v[1] >= 0 && v[2] >= 0 && v[0] < d[0] && v[1] < d[1] && v[2] < d[2];
    var code = inside ? atlasCodes[v[0] + d[0] * (v[1] + d[1] * v[2])] : 0;
    return data.atlas.names[String(code)] || ('code ' + code);
  }
  var nv = new niivue.Niivue({ backColor: [0, 0, 0, 1], isColorbar: true, show3Dcrosshair: false, dragAndDropEnabled: false, loadingText: '' });
  var overlay = null;
  function setThreshold(t) {
    if (!overlay) return;
    overlay.cal_min = t;
    overlay.cal_max = Math.max(t + 1e-3, data.maps[viewerState.map].max);
    nv.updateGLVolume();
    viewerState.threshold = t;
    shown.textContent = t.toFixed(2);
  }
  function loadMap(i) {
    var m = data.maps[i];
    return niivue.NVImage.loadFromBase64({ base64: m.nifti, name: 'map' + i + '.nii.gz', colormap: 'warm', opacity: 1,
      cal_min: m.threshold, cal_max: Math.max(m.max, m.threshold + 1e-3), colormapNegative: m.negative ? 'winter' : '' }).then(function (img) {
      if (overlay) nv.removeVolume(overlay);
      overlay = img;
      nv.addVolume(img);
      viewerState.map = i;
      slider.max = String((m.max * 1.05).toFixed(3));
      slider.value = String(m.threshold);
      setThreshold(m.threshold);
      if (m.peak) {
        nv.scene.crosshairPos = nv.mm2frac(m.peak);
        nv.drawScene();
      }
    });
  }
  nv.attachToCanvas(document.getElementById('nv-canvas')).then(function () {
    nv.setSliceType(nv.sliceTypeMultiplanar);
    var steps = [];
    if (data.atlas) steps.push(gunzip(data.atlas.codes).then(function (buf) { atlasCodes = new Int16Array(buf); }));
    var bg = data.background
      ? niivue.NVImage.loadFromBase64({ base64: data.background, name: 'background.nii.gz', colormap: 'gray', cal_min: 0, cal_max: 255, colorbarVisible: false }).then(function (img) { nv.addVolume(img); })
      : Promise.resolve();
    steps.push(bg.then(function () { return data.maps.length ? loadMap(0) : null; }));
    return Promise.all(steps);
  }).then(function () {
    nv.onLocationChange = function (loc) {
      var mm = loc.mm;
      var v = null;
      (loc.values || []).forEach(function (x) { if (overlay && x.id === overlay.id) v = x.value; });
      var m = data.maps[viewerState.map];
      var text = 'x=' + Math.round(mm[0]) + ' y=' + Math.round(mm[1]) + ' z=' + Math.round(mm[2]) + ' mm';
      if (v !== null && m) text += ', ' + m.type + '=' + Number(v).toFixed(2);
      var label = labelAt(mm);
      if (label) text += ', ' + label;
      info.textContent = text;
      viewerState.location = { mm: [mm[0], mm[1], mm[2]], value: v, label: label };
    };
    select.addEventListener('change', function () { loadMap(Number(select.value)); });
    slider.addEventListener('input', function () { setThreshold(Number(slider.value)); });
    viewerState.ready = true;
  }).catch(function (e) {
    status.textContent = 'The viewer could not start: ' + (e && e.message ? e.message : e);
  });
})();
`;
