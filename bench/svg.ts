/**
 * A small dependency-free SVG chart: side-by-side panels, each with measured points and the
 * least-squares line through them. Hand-written markup so that the benchmark needs no plotting
 * package and the file diffs readably.
 */
import type { LinearFit } from './lib.js';

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  points: Array<{ x: number; y: number }>;
  fit: LinearFit;
  /** Formats a y value for the axis (e.g. µs). */
  yFormat: (y: number) => string;
}

const W = 380;
const H = 280;
const M = { left: 80, right: 18, top: 44, bottom: 46 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 4–6 round tick values from 0 to at least `max`. */
export function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panel(p: Panel, offsetX: number): string {
  const xs = p.points.map((q) => q.x);
  const ys = p.points.map((q) => q.y);
  const xTicks = ticks(Math.max(...xs));
  const yTicks = ticks(Math.max(...ys, p.fit.intercept + p.fit.slope * Math.max(...xs)));
  const xMax = xTicks[xTicks.length - 1] as number;
  const yMax = yTicks[yTicks.length - 1] as number;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => offsetX + M.left + (x / xMax) * pw;
  const sy = (y: number): number => M.top + ph - (Math.max(0, y) / yMax) * ph;
  const f = (n: number): string => n.toFixed(1);
  const parts: string[] = [];
  parts.push(`<text x="${f(offsetX + W / 2)}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${f(sx(0))}" y1="${f(sy(t))}" x2="${f(sx(xMax))}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${f(sx(0) - 6)}" y="${f(sy(t) + 4)}" text-anchor="end">${t === 0 ? '0' : esc(p.yFormat(t))}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${f(sx(t))}" y1="${f(sy(0))}" x2="${f(sx(t))}" y2="${f(sy(0) + 4)}" stroke="#333"/>`);
    parts.push(`<text x="${f(sx(t))}" y="${f(sy(0) + 17)}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<line x1="${f(sx(0))}" y1="${f(sy(0))}" x2="${f(sx(xMax))}" y2="${f(sy(0))}" stroke="#333"/>`);
  parts.push(`<line x1="${f(sx(0))}" y1="${f(sy(0))}" x2="${f(sx(0))}" y2="${f(sy(yMax))}" stroke="#333"/>`);
  parts.push(`<text x="${f(offsetX + M.left + pw / 2)}" y="${H - 8}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  parts.push(`<text x="${f(offsetX + 16)}" y="${f(M.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 ${f(offsetX + 16)} ${f(M.top + ph / 2)})">${esc(p.yLabel)}</text>`);
  const x0 = 0;
  const x1 = xMax;
  parts.push(
    `<line x1="${f(sx(x0))}" y1="${f(sy(p.fit.intercept + p.fit.slope * x0))}" x2="${f(sx(x1))}" y2="${f(sy(p.fit.intercept + p.fit.slope * x1))}" stroke="#d62728" stroke-dasharray="5 4"/>`,
  );
  for (const q of p.points) parts.push(`<circle cx="${f(sx(q.x))}" cy="${f(sy(q.y))}" r="4" fill="#1f77b4"><title>${q.x}: ${esc(p.yFormat(q.y))}</title></circle>`);
  parts.push(`<text x="${f(offsetX + W / 2)}" y="32" text-anchor="middle" fill="#d62728">dashed: least-squares line, R² = ${p.fit.r2.toFixed(3)}</text>`);
  return parts.join('\n  ');
}

export function chartSvg(panels: readonly Panel[]): string {
  const width = W * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="11">`,
    `  <rect width="${width}" height="${H}" fill="#fff"/>`,
    ...panels.map((p, i) => `  ${panel(p, i * W)}`),
    '</svg>',
    '',
  ].join('\n');
}
