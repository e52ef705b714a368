/**
 * Putting panels, titles and a colour bar on one PNG, with @napi-rs/canvas (Skia). Panels are
 * copied pixel for pixel (no smoothing), so what a test reads back at a panel's pixel is exactly
 * the colour given for it; text goes in margins outside the panels.
 */
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import { type RGB, type StatScale, statColour } from './colours.js';

export const FONT_FAMILY = '"DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif';

let fontChecked = false;
/** Warn once when the machine has no font, so text would be missing from the pictures. */
export function checkFonts(warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  if (fontChecked) return;
  fontChecked = true;
  if (GlobalFonts.families.length === 0)
    warn(
      'vbm plot: no fonts found on this machine, so pictures have no text; install one (Debian: apt-get install fonts-dejavu-core)',
    );
}

export interface Theme {
  background: string;
  text: string;
  faint: string;
}

export const DARK: Theme = { background: '#000000', text: '#ffffff', faint: '#a0a0a0' };
export const LIGHT: Theme = { background: '#ffffff', text: '#000000', faint: '#606060' };

import type { Panel } from './panels.js';

/** One panel: RGBA pixels and the words above it (declared with the pure rasters, panels.ts). */
export type { Panel } from './panels.js';

export interface ColourBar {
  scale: StatScale;
  label?: string;
}

export interface FigureRequest {
  title?: string;
  panels: Panel[];
  colourBar?: ColourBar;
  theme?: Theme;
  /** Panels per row (default: all in one row). */
  columns?: number;
}

export interface PanelPlacement {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Figure {
  png: Buffer;
  width: number;
  height: number;
  /** Where each panel's pixels are in the PNG. */
  panels: PanelPlacement[];
}

const PAD = 8;
const HEADER = 18;
const TITLE = 28;
const BAR_WIDTH = 16;
const BAR_SPACE = 78;

export function composeFigure(req: FigureRequest): Figure {
  checkFonts();
  const theme = req.theme ?? DARK;
  const cols = Math.max(1, Math.min(req.columns ?? req.panels.length, req.panels.length));
  const rows = Math.ceil(req.panels.length / cols);
  const colW = new Array<number>(cols).fill(0);
  const rowH = new Array<number>(rows).fill(0);
  req.panels.forEach((p, i) => {
    colW[i % cols] = Math.max(colW[i % cols], p.width);
    rowH[Math.floor(i / cols)] = Math.max(rowH[Math.floor(i / cols)], p.height);
  });
  const top = req.title ? TITLE : PAD;
  const gridW = colW.reduce((a, b) => a + b, 0) + PAD * (cols + 1);
  const gridH = rowH.reduce((a, b) => a + b + HEADER, 0) + PAD * rows;
  const width = gridW + (req.colourBar ? BAR_SPACE : 0);
  const height = Math.max(top + gridH + PAD, req.colourBar ? 200 : 0);
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  g.fillStyle = theme.background;
  g.fillRect(0, 0, width, height);
  if (req.title) {
    g.fillStyle = theme.text;
    g.font = `bold 15px ${FONT_FAMILY}`;
    g.textBaseline = 'middle';
    g.textAlign = 'left';
    g.fillText(fitText(g, req.title, width - 2 * PAD), PAD, TITLE / 2 + 2);
  }
  const placements: PanelPlacement[] = [];
  let y = top;
  for (let r = 0; r < rows; r++) {
    let x = PAD;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (i >= req.panels.length) break;
      const p = req.panels[i];
      const px = x + Math.floor((colW[c] - p.width) / 2);
      const py = y + HEADER + Math.floor((rowH[r] - p.height) / 2);
      const img = g.createImageData(p.width, p.height);
      img.data.set(p.rgba);
      g.putImageData(img, px, py);
      placements.push({ x: px, y: py, width: p.width, height: p.height });
      if (p.header) {
        g.font = `12px ${FONT_FAMILY}`;
        g.textBaseline = 'bottom';
        g.fillStyle = theme.text;
        const base = y + HEADER - 3;
        if (p.header.left) {
          g.textAlign = 'left';
          g.fillText(p.header.left, px, base);
        }
        if (p.header.right) {
          g.textAlign = 'right';
          g.fillText(p.header.right, px + p.width, base);
        }
        if (p.header.centre) {
          g.textAlign = 'center';
          g.fillText(p.header.centre, px + p.width / 2, base);
        }
      }
      x += colW[c] + PAD;
    }
    y += rowH[r] + HEADER + PAD;
  }
  if (req.colourBar) drawColourBar(g, req.colourBar, gridW + 10, top + HEADER, height - top - HEADER - PAD, theme);
  return { png: canvas.toBuffer('image/png'), width, height, panels: placements };
}

function fitText(g: SKRSContext2D, text: string, maxWidth: number): string {
  if (g.measureText(text).width <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && g.measureText(`${s}…`).width > maxWidth) s = s.slice(0, -1);
  return `${s}…`;
}

/** Compact tick label: 3 significant digits. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

function rgb(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * The colour bar as nilearn draws it: one continuous scale from the top value to the bottom one
 * (+vmax to -vmax for both signs, +vmax to 0 for positive values, 0 to -vmax for negative ones),
 * with the values that are not shown (|v| <= threshold) in grey, and the threshold marked by a
 * line across the bar and its value.
 */
function drawColourBar(g: SKRSContext2D, bar: ColourBar, x: number, y: number, h: number, theme: Theme): void {
  const s = bar.scale;
  const top = s.sign === 'neg' ? 0 : s.vmax;
  const bottom = s.sign === 'pos' ? 0 : -s.vmax;
  const span = top - bottom || 1;
  const yOf = (v: number): number => y + ((top - v) / span) * h;
  g.font = `11px ${FONT_FAMILY}`;
  g.textAlign = 'left';
  g.textBaseline = 'middle';
  for (let k = 0; k < h; k++) {
    const v = top - (span * (k + 0.5)) / h;
    g.fillStyle = Math.abs(v) > s.threshold ? rgb(statColour(v, s)) : '#808080';
    g.fillRect(x, y + k, BAR_WIDTH, 1);
  }
  g.strokeStyle = theme.faint;
  g.lineWidth = 1;
  g.strokeRect(x + 0.5, y + 0.5, BAR_WIDTH - 1, h - 1);
  const thresholds = [s.sign !== 'neg' ? s.threshold : undefined, s.sign !== 'pos' ? -s.threshold : undefined].filter(
    (v): v is number => v !== undefined,
  );
  const ticks: { v: number; strong: boolean }[] = [
    { v: top, strong: false },
    { v: bottom, strong: false },
    ...thresholds.map((v) => ({ v, strong: true })),
  ];
  if (s.sign === 'both' && yOf(-s.threshold) - yOf(s.threshold) > 26) ticks.push({ v: 0, strong: false });
  // labels closer than 12 pixels to a threshold's label give way to it
  const shown = ticks.filter((t) => t.strong || thresholds.every((u) => Math.abs(yOf(u) - yOf(t.v)) >= 12));
  for (const t of shown) {
    const yy = Math.min(Math.max(Math.round(yOf(t.v)), y + 5), y + h - 5);
    g.fillStyle = theme.text;
    if (t.strong) {
      g.fillRect(x - 3, Math.round(yOf(t.v)), BAR_WIDTH + 6, 2);
      g.font = `bold 11px ${FONT_FAMILY}`;
    } else {
      g.fillRect(x + BAR_WIDTH, yy, 3, 1);
      g.font = `11px ${FONT_FAMILY}`;
    }
    g.fillText(formatTick(t.v), x + BAR_WIDTH + 5, yy);
  }
  g.font = `11px ${FONT_FAMILY}`;
  if (bar.label) {
    g.save();
    g.translate(x - 4, y + h / 2);
    g.rotate(-Math.PI / 2);
    g.textAlign = 'center';
    g.textBaseline = 'bottom';
    g.fillStyle = theme.faint;
    g.fillText(bar.label, 0, 0);
    g.restore();
  }
}
