/**
 * The design matrix as SPM shows it (spm_DesRep): one grey column per regressor, each scaled to
 * its own range (a constant column is white), scans from top to bottom, with the contrast
 * weights drawn as bars above the columns they weigh.
 */
import { createCanvas } from '@napi-rs/canvas';
import { checkFonts, FONT_FAMILY } from './figure.js';

export interface DesignPicture {
  columns: string[];
  /** n rows x p columns. */
  matrix: number[][];
  contrasts: { index: number; name: string; type: 'T' | 'F'; weights: number[][] }[];
  title?: string;
}

export interface DesignFigure {
  png: Buffer;
  width: number;
  height: number;
  /** Where the matrix is drawn, and the pixel rows each scan spans. */
  matrix: { x: number; y: number; width: number; height: number; columnWidth: number; rowHeight: number };
}

/** Grey level (0-255) of each cell: per column, (x - min) / (max - min); a constant column is white. */
export function designGreys(matrix: number[][]): number[][] {
  const n = matrix.length;
  const p = n ? matrix[0].length : 0;
  const lo = new Array<number>(p).fill(Infinity);
  const hi = new Array<number>(p).fill(-Infinity);
  for (const row of matrix)
    row.forEach((v, j) => {
      lo[j] = Math.min(lo[j], v);
      hi[j] = Math.max(hi[j], v);
    });
  return matrix.map((row) =>
    row.map((v, j) => (hi[j] > lo[j] ? Math.round((255 * (v - lo[j])) / (hi[j] - lo[j])) : 255)),
  );
}

/** Draw a design matrix as SPM does (grey scale per column, scans down, columns across) with the contrasts' weights above. */
export function plotDesignMatrix(d: DesignPicture): DesignFigure {
  checkFonts();
  const n = d.matrix.length;
  const p = d.columns.length;
  const colW = Math.max(24, Math.min(64, Math.floor(420 / Math.max(1, p))));
  const rowH = n >= 300 ? 1 : Math.ceil(300 / Math.max(1, n));
  const measure = createCanvas(10, 10).getContext('2d');
  measure.font = `12px ${FONT_FAMILY}`;
  const nameBand = Math.min(160, Math.ceil(Math.max(20, ...d.columns.map((c) => measure.measureText(c).width))) + 8);
  const contrastRows = d.contrasts.map((c) => c.weights.length);
  const subRow = 14;
  const contrastBand = contrastRows.reduce((a, r) => a + r * subRow + 6, 0);
  const contrastLabels = d.contrasts.map((c) => `${c.index}: ${c.name} (${c.type})`);
  const labelW = d.contrasts.length
    ? Math.min(320, Math.ceil(Math.max(...contrastLabels.map((s) => measure.measureText(s).width))) + 12)
    : 0;
  const left = 44;
  const top = d.title ? 30 : 8;
  const mx = left;
  const my = top + contrastBand + nameBand;
  const mw = colW * p;
  const mh = rowH * n;
  const width = mx + mw + 10 + labelW;
  const height = my + mh + 22;
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#000000';
  if (d.title) {
    g.font = `bold 14px ${FONT_FAMILY}`;
    g.textBaseline = 'middle';
    g.fillText(d.title, 8, 16);
  }
  // contrasts: bars up for positive weights, down for negative, scaled per contrast row
  let y = top;
  g.font = `12px ${FONT_FAMILY}`;
  d.contrasts.forEach((c, ci) => {
    const rows = c.weights;
    const maxAbs = Math.max(1e-12, ...rows.flat().map(Math.abs));
    rows.forEach((w, r) => {
      const mid = y + r * subRow + subRow / 2;
      g.fillStyle = '#c8c8c8';
      g.fillRect(mx, Math.round(mid), mw, 1);
      w.forEach((v, j) => {
        if (v === 0) return;
        const h = ((subRow / 2 - 1) * Math.abs(v)) / maxAbs;
        g.fillStyle = v > 0 ? '#303030' : '#808080';
        g.fillRect(mx + j * colW + 3, v > 0 ? mid - h : mid, colW - 6, Math.max(1, h));
      });
    });
    g.fillStyle = '#000000';
    g.textBaseline = 'middle';
    g.textAlign = 'left';
    g.fillText(contrastLabels[ci], mx + mw + 8, y + (rows.length * subRow) / 2);
    y += rows.length * subRow + 6;
  });
  // column names, written upwards above their columns
  g.save();
  g.font = `12px ${FONT_FAMILY}`;
  g.textAlign = 'left';
  g.textBaseline = 'middle';
  d.columns.forEach((name, j) => {
    g.save();
    g.translate(mx + j * colW + colW / 2, my - 4);
    g.rotate(-Math.PI / 2);
    g.fillStyle = '#000000';
    g.fillText(name, 0, 0, nameBand - 8);
    g.restore();
  });
  g.restore();
  // the matrix
  const greys = designGreys(d.matrix);
  const img = g.createImageData(Math.max(1, mw), Math.max(1, mh));
  for (let i = 0; i < n; i++)
    for (let j = 0; j < p; j++) {
      const v = greys[i][j];
      for (let yy = i * rowH; yy < (i + 1) * rowH; yy++)
        for (let xx = j * colW; xx < (j + 1) * colW; xx++) {
          const o = (yy * mw + xx) * 4;
          img.data[o] = v;
          img.data[o + 1] = v;
          img.data[o + 2] = v;
          img.data[o + 3] = 255;
        }
    }
  if (mw > 0 && mh > 0) g.putImageData(img, mx, my);
  g.strokeStyle = '#000000';
  g.strokeRect(mx - 0.5, my - 0.5, mw + 1, mh + 1);
  g.fillStyle = '#000000';
  g.font = `11px ${FONT_FAMILY}`;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  g.fillText('1', mx - 4, my + rowH / 2);
  g.fillText(String(n), mx - 4, my + mh - rowH / 2);
  g.save();
  g.translate(12, my + mh / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = 'center';
  g.fillText('scans', 0, 0);
  g.restore();
  g.textAlign = 'left';
  g.fillText(`${n} scans x ${p} columns`, mx, my + mh + 12);
  return {
    png: canvas.toBuffer('image/png'),
    width,
    height,
    matrix: { x: mx, y: my, width: mw, height: mh, columnWidth: colW, rowHeight: rowH },
  };
}
