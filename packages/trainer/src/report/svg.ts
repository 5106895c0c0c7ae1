/**
 * Tiny SVG chart builders (line charts, heatmaps) producing strings for a self-contained HTML
 * report: no fonts, images, scripts or styles from anywhere but the page itself.
 */

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Compact number for axis labels and tooltips. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  // Integer multiples of the step, printed to the step's decimals (no drift from repeated addition).
  const dec = Math.min(20, Math.max(0, -Math.floor(Math.log10(step)) + 1));
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toFixed(dec)));
  return out;
}

export interface Series {
  name: string;
  /** [x, y] points; non-finite y values are skipped (a gap). */
  points: [number, number][];
  /** Fixed colour (default: the palette by series index). */
  color?: string;
}

export interface LineChartOptions {
  title: string;
  series: Series[];
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  width?: number;
  height?: number;
  /** Draw dots at each point (sparse series such as evaluations). */
  markers?: boolean;
  /** DOM id (unique within the page). */
  id?: string;
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 280;
  const m = { l: 64, r: 16, t: 28, b: 40 };
  const tr = (y: number) => (o.logY ? Math.log10(y) : y);
  const pts = o.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0)));
  const id = o.id ?? `chart-${Math.abs(hashString(o.title))}`;
  const head = `<figure class="chart" id="${id}"><figcaption>${esc(o.title)}</figcaption>`;
  if (pts.length === 0) return `${head}<p class="empty">no data yet</p></figure>`;
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => tr(p[1]))), y1 = Math.max(...pts.map((p) => tr(p[1])));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((tr(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" class="plot-bg"/>`);
  for (const t of niceTicks(x0, x1, 6)) {
    const x = sx(t);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${H - m.b}" class="grid"/><text x="${x.toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" class="tick">${esc(fmtNum(t))}</text>`);
  }
  for (const t of niceTicks(y0, y1, 5)) {
    const yv = o.logY ? Math.pow(10, t) : t;
    const y = H - m.b - ((t - y0) / (y1 - y0)) * (H - m.t - m.b);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/><text x="${m.l - 4}" y="${(y + 3).toFixed(1)}" text-anchor="end" class="tick">${esc(fmtNum(yv))}</text>`);
  }
  if (o.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" class="label">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text x="12" y="${(m.t + H - m.b) / 2}" text-anchor="middle" class="label" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})">${esc(o.yLabel)}${o.logY ? ' (log)' : ''}</text>`);
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const segs: string[][] = [[]];
    const dots: string[] = [];
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y) || (o.logY && y <= 0)) { segs.push([]); continue; }
      segs[segs.length - 1]!.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      if (o.markers) dots.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"><title>${esc(s.name)} @ ${esc(fmtNum(x))}: ${esc(fmtNum(y))}</title></circle>`);
    }
    parts.push(`<g class="series" data-series="${i}">`);
    for (const seg of segs) if (seg.length) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${seg.join(' ')}"><title>${esc(s.name)}</title></polyline>`);
    parts.push(...dots, '</g>');
  });
  parts.push('</svg>');
  const legend = o.series.length > 1 || o.series[0]?.name
    ? `<div class="legend">${o.series.map((s, i) => `<button type="button" class="legend-item" data-target="${id}" data-series="${i}"><span class="swatch" style="background:${s.color ?? PALETTE[i % PALETTE.length]}"></span>${esc(s.name)}</button>`).join('')}</div>`
    : '';
  return `${head}${parts.join('')}${legend}</figure>`;
}

/** Viridis-like colour ramp, t in [0, 1]. */
export function colorRamp(t: number): string {
  const stops: [number, number, number][] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i]!.map((v, k) => Math.round(v + (stops[i + 1]![k]! - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapOptions {
  title: string;
  rowLabels: string[];
  colLabels: string[];
  /** [rows][cols] */
  values: number[][];
  /** Shown in the colour bar. */
  valueLabel?: string;
  /**
   * Fixed bottom of the colour scale (e.g. 0 for shares): without it the scale starts at the data's
   * minimum, and a near-uniform load looks as contrasted as a collapsed one.
   */
  min?: number;
}

export function heatmap(o: HeatmapOptions): string {
  const R = o.rowLabels.length, C = o.colLabels.length;
  const head = `<figure class="chart heatmap"><figcaption>${esc(o.title)}</figcaption>`;
  if (R === 0 || C === 0) return `${head}<p class="empty">no data yet</p></figure>`;
  const cell = Math.max(10, Math.min(36, Math.floor(520 / C)));
  // Room for the longest row label (about 6.5 px per character at the tick font size).
  const m = { l: Math.max(110, Math.ceil(Math.max(...o.rowLabels.map((x) => x.length)) * 6.5) + 12), t: 12, b: 44, r: 90 };
  const W = m.l + C * cell + m.r, H = m.t + R * cell + m.b;
  const flat = o.values.flat().filter(Number.isFinite);
  const lo = o.min !== undefined ? Math.min(o.min, ...flat) : flat.length ? Math.min(...flat) : 0;
  const hi = flat.length ? Math.max(...flat) : 1;
  const norm = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`];
  for (let r = 0; r < R; r++) {
    parts.push(`<text x="${m.l - 6}" y="${m.t + r * cell + cell / 2 + 4}" text-anchor="end" class="tick">${esc(o.rowLabels[r]!)}</text>`);
    for (let c = 0; c < C; c++) {
      const v = o.values[r]?.[c] ?? NaN;
      // A cell without data (a domain not sampled on the statistics steps) is grey, not the colour of 0.
      const fill = Number.isFinite(v) ? colorRamp(norm(v)) : '#e6e6e6';
      parts.push(`<rect x="${m.l + c * cell}" y="${m.t + r * cell}" width="${cell}" height="${cell}" fill="${fill}" class="cell"><title>${esc(o.rowLabels[r]!)} / ${esc(o.colLabels[c]!)}: ${Number.isFinite(v) ? esc(fmtNum(v)) : 'no data'}</title></rect>`);
    }
  }
  const every = Math.max(1, Math.ceil(C / 16));
  for (let c = 0; c < C; c += every) parts.push(`<text x="${m.l + c * cell + cell / 2}" y="${m.t + R * cell + 14}" text-anchor="middle" class="tick">${esc(o.colLabels[c]!)}</text>`);
  parts.push(`<text x="${m.l + (C * cell) / 2}" y="${H - 8}" text-anchor="middle" class="label">expert</text>`);
  // Colour bar.
  const bx = m.l + C * cell + 16, bh = R * cell, steps = 20;
  for (let i = 0; i < steps; i++) parts.push(`<rect x="${bx}" y="${(m.t + bh - ((i + 1) * bh) / steps).toFixed(1)}" width="12" height="${(bh / steps + 0.5).toFixed(1)}" fill="${colorRamp(i / (steps - 1))}"/>`);
  parts.push(`<text x="${bx + 16}" y="${m.t + 9}" class="tick">${esc(fmtNum(hi))}</text><text x="${bx + 16}" y="${m.t + bh}" class="tick">${esc(fmtNum(lo))}</text>`);
  if (o.valueLabel) parts.push(`<text x="${bx}" y="${m.t + bh + 16}" class="tick">${esc(o.valueLabel)}</text>`);
  parts.push('</svg>');
  return `${head}${parts.join('')}</figure>`;
}

function hashString(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
