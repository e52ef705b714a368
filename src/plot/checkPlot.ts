/**
 * The sample-homogeneity picture: one box plot per measure (mean correlation, quartic mean Z),
 * every scan a dot, the flagging threshold a dashed line, flagged scans red and named. Each box is
 * drawn on its own canvas and the two are put side by side with figure.ts's composeFigure.
 */
import { createCanvas } from '@napi-rs/canvas';
import { composeFigure, FONT_FAMILY, formatTick, LIGHT, type Panel } from './figure.js';

export interface BoxMeasure {
  title: string;
  values: number[];
  /** The flagging threshold on this measure's scale. */
  threshold: number;
  /** 'low': values below the threshold are flagged; 'high': above. */
  side: 'low' | 'high';
}

export interface CheckPicture {
  title?: string;
  measures: BoxMeasure[];
  /** Per scan: flagged or not, and the name written beside a flagged dot. */
  flagged: boolean[];
  names: string[];
}

function quantile(sorted: number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}

/** A deterministic horizontal jitter in [-1, 1] for scan i. */
function jitter(i: number): number {
  const x = Math.sin((i + 1) * 12.9898) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

const W = 380;
const H = 440;

function boxPanel(m: BoxMeasure, flagged: boolean[], names: string[]): Panel {
  const canvas = createCanvas(W, H);
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, W, H);
  const vals = m.values.filter(Number.isFinite);
  const sorted = vals.slice().sort((a, b) => a - b);
  let lo = Math.min(sorted[0], m.threshold);
  let hi = Math.max(sorted[sorted.length - 1], m.threshold);
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const padV = (hi - lo) * 0.06;
  lo -= padV;
  hi += padV;
  const top = 30;
  const bottom = H - 20;
  const axisX = 62;
  const cx = 150;
  const yOf = (v: number): number => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  g.fillStyle = '#000000';
  g.font = `bold 13px ${FONT_FAMILY}`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(m.title, W / 2, 14);
  // axis and ticks
  g.strokeStyle = '#000000';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(axisX + 0.5, top);
  g.lineTo(axisX + 0.5, bottom);
  g.stroke();
  g.font = `11px ${FONT_FAMILY}`;
  g.textAlign = 'right';
  for (let t = 0; t <= 5; t++) {
    const v = lo + ((hi - lo) * t) / 5;
    const y = Math.round(yOf(v)) + 0.5;
    g.fillRect(axisX - 4, y, 4, 1);
    g.fillText(formatTick(v), axisX - 6, y);
  }
  // box: quartiles, median, whiskers to the furthest values within 1.5 IQR
  const q1 = quantile(sorted, 0.25);
  const q2 = quantile(sorted, 0.5);
  const q3 = quantile(sorted, 0.75);
  const iqr = q3 - q1;
  const wlo = sorted.find((v) => v >= q1 - 1.5 * iqr) ?? q1;
  const whi = [...sorted].reverse().find((v) => v <= q3 + 1.5 * iqr) ?? q3;
  g.strokeStyle = '#404040';
  g.fillStyle = '#dde6f0';
  g.fillRect(cx - 40, yOf(q3), 80, yOf(q1) - yOf(q3));
  g.strokeRect(cx - 40 + 0.5, yOf(q3) + 0.5, 80, yOf(q1) - yOf(q3));
  g.beginPath();
  g.moveTo(cx - 40, yOf(q2));
  g.lineTo(cx + 40, yOf(q2));
  g.moveTo(cx, yOf(q3));
  g.lineTo(cx, yOf(whi));
  g.moveTo(cx, yOf(q1));
  g.lineTo(cx, yOf(wlo));
  g.moveTo(cx - 15, yOf(whi));
  g.lineTo(cx + 15, yOf(whi));
  g.moveTo(cx - 15, yOf(wlo));
  g.lineTo(cx + 15, yOf(wlo));
  g.stroke();
  // threshold
  g.strokeStyle = '#d02020';
  g.setLineDash([5, 4]);
  g.beginPath();
  g.moveTo(axisX + 2, Math.round(yOf(m.threshold)) + 0.5);
  g.lineTo(W - 8, Math.round(yOf(m.threshold)) + 0.5);
  g.stroke();
  g.setLineDash([]);
  g.fillStyle = '#d02020';
  g.textAlign = 'left';
  g.textBaseline = m.side === 'low' ? 'bottom' : 'top';
  g.fillText(
    `flag ${m.side === 'low' ? 'below' : 'above'} ${formatTick(m.threshold)}`,
    axisX + 4,
    Math.round(yOf(m.threshold)) + (m.side === 'low' ? -3 : 3),
  );
  // dots; flagged ones red and named, labels pushed apart vertically
  const labels: { y: number; text: string; dotY: number; dotX: number }[] = [];
  m.values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const x = cx + jitter(i) * 30;
    const y = yOf(v);
    g.fillStyle = flagged[i] ? '#d02020' : 'rgba(20,40,90,0.65)';
    g.beginPath();
    g.arc(x, y, flagged[i] ? 4 : 2.5, 0, 2 * Math.PI);
    g.fill();
    if (flagged[i]) labels.push({ y, dotY: y, dotX: x, text: names[i] });
  });
  labels.sort((a, b) => a.y - b.y);
  for (let k = 1; k < labels.length; k++) if (labels[k].y - labels[k - 1].y < 13) labels[k].y = labels[k - 1].y + 13;
  g.font = `11px ${FONT_FAMILY}`;
  g.textAlign = 'left';
  g.textBaseline = 'middle';
  for (const l of labels) {
    g.strokeStyle = '#d02020';
    g.beginPath();
    g.moveTo(l.dotX + 4, l.dotY);
    g.lineTo(cx + 52, l.y);
    g.stroke();
    g.fillStyle = '#d02020';
    let t = l.text;
    while (t.length > 4 && g.measureText(t).width > W - cx - 60) t = `…${t.slice(2)}`;
    g.fillText(t, cx + 55, l.y);
  }
  const img = g.getImageData(0, 0, W, H);
  return { width: W, height: H, rgba: img.data };
}

export function plotCheck(p: CheckPicture): { png: Buffer; width: number; height: number } {
  const fig = composeFigure({
    title: p.title,
    panels: p.measures.map((m) => boxPanel(m, p.flagged, p.names)),
    theme: LIGHT,
  });
  return { png: fig.png, width: fig.width, height: fig.height };
}
