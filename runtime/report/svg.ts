/**
 * A small SVG plotting module for winnow's reports: line plots (with optional shaded bands, e.g.
 * mean +- std across seeds), histograms, axes with "nice" ticks, and legends. Every function
 * returns a self-contained `<svg>` string (no scripts, fonts or external resources), so a figure
 * can be inlined in an HTML page opened from file:// or saved as a `.svg` file.
 *
 * Text (titles, labels, series names) is XML-escaped; numbers are written with at most two
 * decimals, so the output is compact and deterministic.
 *
 * @example
 * import { linePlot, histogram } from 'winnow/runtime/report/svg';
 * const svg = linePlot({
 *   title: 'Accuracy vs noise', xLabel: 'noise level', yLabel: 'accuracy (%)',
 *   series: [{ name: 'Sparse CNN-2', points: [[0, 99.1], [0.25, 95.2], [0.5, 70.3]] }],
 * });
 * const bars = histogram({ xLabel: 'duty cycle', yLabel: 'units', edges: [0, 0.1, 0.2], counts: [12, 30] });
 */

/** Colours for series, in order (colour-blind-safe Okabe-Ito hues, then greys). */
export const palette: ReadonlyArray<string> = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#999999'];

/** Escapes text for XML/HTML element content and attribute values. */
export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A coordinate rounded to two decimals (trailing zeros dropped). */
const n2 = (x: number): string => String(Math.round(x * 100) / 100);

/**
 * Up to about `maxTicks` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]: the
 * first tick is the largest multiple of the step <= lo, the last the smallest >= hi, so the ticks
 * also give a "nice" domain. Values are rounded to the step's precision (0.3, not
 * 0.30000000000000004).
 *
 * @example
 * niceTicks(0, 1, 5);      // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * niceTicks(97.3, 99.4, 5); // [97, 97.5, 98, 98.5, 99, 99.5]
 */
export const niceTicks = (lo: number, hi: number, maxTicks = 6): number[] => {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`niceTicks: the domain must be finite, got [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, maxTicks);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step / mag === 2.5 ? 1 : 0));
  const round = (v: number) => Number(v.toFixed(Math.min(20, decimals)));
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(round(i * step));
  return ticks;
};

/** Default tick label: the number as `niceTicks` rounded it, with thousands separators for big ones. */
const defaultFormat = (v: number): string => (Math.abs(v) >= 10_000 ? v.toLocaleString('en-US') : String(v));

/** One line of a line plot. */
export interface Series {
  readonly name: string;
  /** [x, y] points, drawn in order. */
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** An optional shaded band [x, low, high] (e.g. mean +- std), drawn under the line. */
  readonly band?: ReadonlyArray<readonly [number, number, number]>;
  /** Default: the palette colour of the series' index. */
  readonly color?: string;
  readonly dashed?: boolean;
}

/** Size, title and axis labels shared by every plot. */
export interface PlotFrame {
  readonly title?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  readonly xTickFormat?: (v: number) => string;
  readonly yTickFormat?: (v: number) => string;
}

/** Options of `linePlot`. */
export interface LinePlotOptions extends PlotFrame {
  readonly series: ReadonlyArray<Series>;
  /** Default: the data's extent, widened to nice ticks. */
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  /** Draw a dot at every point (default true). */
  readonly markers?: boolean;
  /** Legend position: to the right of the plot (default when there are 2+ series) or none. */
  readonly legend?: 'right' | 'none';
}

interface Layout {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

const layoutFor = (frame: PlotFrame, legendWidth: number): Layout => {
  const width = frame.width ?? 640;
  const height = frame.height ?? 360;
  return { width, height, left: 64, right: width - 16 - legendWidth, top: frame.title ? 34 : 14, bottom: height - 48 };
};

const scale = (d0: number, d1: number, r0: number, r1: number) => (v: number): number => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0));

const open = (l: Layout, frame: PlotFrame, role: string): string[] => [
  `<svg xmlns="http://www.w3.org/2000/svg" class="winnow-plot ${role}" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12" role="img"${frame.title ? ` aria-label="${escapeXml(frame.title)}"` : ''}>`,
  `<rect x="0" y="0" width="${l.width}" height="${l.height}" fill="#ffffff"/>`,
  ...(frame.title ? [`<text x="${n2(l.width / 2)}" y="20" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(frame.title)}</text>`] : []),
];

/** Axes, grid lines, ticks and axis labels. */
const axes = (l: Layout, frame: PlotFrame, xTicks: ReadonlyArray<number>, yTicks: ReadonlyArray<number>, sx: (v: number) => number, sy: (v: number) => number): string[] => {
  const fx = frame.xTickFormat ?? defaultFormat;
  const fy = frame.yTickFormat ?? defaultFormat;
  const out: string[] = ['<g class="grid" stroke="#e5e5e5" stroke-width="1">'];
  for (const t of yTicks) out.push(`<line x1="${l.left}" x2="${l.right}" y1="${n2(sy(t))}" y2="${n2(sy(t))}"/>`);
  out.push('</g>', '<g class="axes" stroke="#333333" stroke-width="1">');
  out.push(`<line x1="${l.left}" x2="${l.right}" y1="${l.bottom}" y2="${l.bottom}"/>`, `<line x1="${l.left}" x2="${l.left}" y1="${l.top}" y2="${l.bottom}"/>`);
  for (const t of xTicks) out.push(`<line x1="${n2(sx(t))}" x2="${n2(sx(t))}" y1="${l.bottom}" y2="${l.bottom + 5}"/>`);
  for (const t of yTicks) out.push(`<line x1="${l.left - 5}" x2="${l.left}" y1="${n2(sy(t))}" y2="${n2(sy(t))}"/>`);
  out.push('</g>', '<g class="ticks" fill="#333333">');
  for (const t of xTicks) out.push(`<text x="${n2(sx(t))}" y="${l.bottom + 18}" text-anchor="middle">${escapeXml(fx(t))}</text>`);
  for (const t of yTicks) out.push(`<text x="${l.left - 8}" y="${n2(sy(t) + 4)}" text-anchor="end">${escapeXml(fy(t))}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${n2((l.left + l.right) / 2)}" y="${l.height - 10}" text-anchor="middle">${escapeXml(frame.xLabel)}</text>`);
  out.push(`<text class="y-label" transform="translate(16 ${n2((l.top + l.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(frame.yLabel)}</text>`);
  return out;
};

/** A legend: one row per entry, a colour swatch (line or box) and the name. */
const legend = (l: Layout, entries: ReadonlyArray<{ name: string; color: string; kind: 'line' | 'box'; dashed?: boolean }>): string[] => {
  const x = l.right + 16;
  const out = ['<g class="legend">'];
  entries.forEach((e, i) => {
    const y = l.top + 8 + i * 20;
    out.push(
      e.kind === 'line'
        ? `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${e.color}" stroke-width="2.5"${e.dashed ? ' stroke-dasharray="6 3"' : ''}/>`
        : `<rect x="${x + 4}" y="${y - 6}" width="12" height="12" fill="${e.color}"/>`,
      `<text x="${x + 28}" y="${y + 4}">${escapeXml(e.name)}</text>`,
    );
  });
  out.push('</g>');
  return out;
};

/** Width a right-hand legend needs for these names (about 6.6 px per character at 12 px). */
const legendWidth = (names: ReadonlyArray<string>): number => (names.length ? 44 + Math.ceil(Math.max(...names.map((s) => s.length)) * 6.6) : 0);

const extent = (values: ReadonlyArray<number>): [number, number] => {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  return [Math.min(...finite), Math.max(...finite)];
};

/**
 * A line plot: one polyline per series (with dots at the points and an optional shaded band),
 * axes with nice ticks, axis labels, a title and a legend. Points with a non-finite coordinate
 * are skipped.
 *
 * @example
 * const svg = linePlot({ xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'Dense CNN-1', points: [[1, 0.2], [2, 0.1]] }] });
 */
export const linePlot = (o: LinePlotOptions): string => {
  const showLegend = (o.legend ?? (o.series.length > 1 ? 'right' : 'none')) === 'right';
  const l = layoutFor(o, showLegend ? legendWidth(o.series.map((s) => s.name)) : 0);
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]);
  const xTicks = niceTicks(...(o.xDomain ?? extent(xs)), Math.max(2, Math.floor((l.right - l.left) / 70)));
  const yTicks = niceTicks(...(o.yDomain ?? extent(ys)), Math.max(2, Math.floor((l.bottom - l.top) / 45)));
  const [x0, x1] = o.xDomain ?? [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = o.yDomain ?? [yTicks[0], yTicks[yTicks.length - 1]];
  const inX = xTicks.filter((t) => t >= x0 - 1e-12 && t <= x1 + 1e-12);
  const inY = yTicks.filter((t) => t >= y0 - 1e-12 && t <= y1 + 1e-12);
  const sx = scale(x0, x1, l.left, l.right);
  const sy = scale(y0, y1, l.bottom, l.top);
  const out = open(l, o, 'line-plot');
  out.push(...axes(l, o, inX, inY, sx, sy));
  const clip = `clip-${Math.abs(hash(JSON.stringify([o.title, o.xLabel, o.yLabel, o.series.map((s) => s.name)])))}`;
  out.push(`<clipPath id="${clip}"><rect x="${l.left}" y="${l.top}" width="${n2(l.right - l.left)}" height="${n2(l.bottom - l.top)}"/></clipPath>`);
  out.push(`<g class="series" clip-path="url(#${clip})">`);
  o.series.forEach((s, i) => {
    const color = s.color ?? palette[i % palette.length];
    const band = (s.band ?? []).filter((b) => b.every(Number.isFinite));
    if (band.length > 1) {
      const upper = band.map((b) => `${n2(sx(b[0]))},${n2(sy(b[2]))}`);
      const lower = [...band].reverse().map((b) => `${n2(sx(b[0]))},${n2(sy(b[1]))}`);
      out.push(`<polygon class="band" points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`);
    }
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length > 1) {
      out.push(`<polyline points="${pts.map((p) => `${n2(sx(p[0]))},${n2(sy(p[1]))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="6 3"' : ''}><title>${escapeXml(s.name)}</title></polyline>`);
    }
    if (o.markers ?? true) for (const p of pts) out.push(`<circle cx="${n2(sx(p[0]))}" cy="${n2(sy(p[1]))}" r="2.5" fill="${color}"/>`);
  });
  out.push('</g>');
  if (showLegend) out.push(...legend(l, o.series.map((s, i) => ({ name: s.name, color: s.color ?? palette[i % palette.length], kind: 'line' as const, dashed: s.dashed ?? false }))));
  out.push('</svg>');
  return out.join('\n');
};

/** Options of `histogram`. */
export interface HistogramOptions extends PlotFrame {
  /** Bin edges, ascending: `counts.length + 1` of them. */
  readonly edges: ReadonlyArray<number>;
  readonly counts: ReadonlyArray<number>;
  readonly color?: string;
  /** A dashed vertical line, e.g. a target value, with its label in the legend. */
  readonly marker?: { readonly x: number; readonly label: string };
  /** Name of the bars in the legend (a legend is drawn when this or a marker is given). */
  readonly barsLabel?: string;
}

/**
 * A histogram: one bar per bin on a linear x axis, y from 0, with an optional marker line.
 *
 * @example
 * const svg = histogram({ xLabel: 'duty cycle', yLabel: 'units', edges: [0, 0.05, 0.1, 0.15], counts: [3, 40, 7], marker: { x: 0.1, label: 'k / n' } });
 */
export const histogram = (o: HistogramOptions): string => {
  if (o.edges.length !== o.counts.length + 1) throw new RangeError(`histogram: ${o.counts.length} counts need ${o.counts.length + 1} edges, got ${o.edges.length}`);
  for (let i = 1; i < o.edges.length; i++) if (!(o.edges[i] > o.edges[i - 1])) throw new RangeError('histogram: edges must be finite and ascending');
  const entries = [
    ...(o.barsLabel !== undefined ? [{ name: o.barsLabel, color: o.color ?? palette[0], kind: 'box' as const }] : []),
    ...(o.marker ? [{ name: o.marker.label, color: '#d55e00', kind: 'line' as const, dashed: true }] : []),
  ];
  const l = layoutFor(o, entries.length ? legendWidth(entries.map((e) => e.name)) : 0);
  const lo = o.edges[0];
  const hi = o.edges[o.edges.length - 1];
  const xTicks = niceTicks(lo, hi, Math.max(2, Math.floor((l.right - l.left) / 70))).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12);
  const yTicks = niceTicks(0, Math.max(1, ...o.counts), Math.max(2, Math.floor((l.bottom - l.top) / 45)));
  const sx = scale(lo, hi, l.left, l.right);
  const sy = scale(0, yTicks[yTicks.length - 1], l.bottom, l.top);
  const out = open(l, o, 'histogram');
  out.push(...axes(l, o, xTicks, yTicks, sx, sy));
  out.push(`<g class="bars" fill="${o.color ?? palette[0]}">`);
  o.counts.forEach((c, i) => {
    if (!(c > 0)) return;
    const x = sx(o.edges[i]);
    const w = Math.max(0.5, sx(o.edges[i + 1]) - x - 1);
    out.push(`<rect x="${n2(x + 0.5)}" y="${n2(sy(c))}" width="${n2(w)}" height="${n2(l.bottom - sy(c))}"><title>${escapeXml(`[${o.edges[i]}, ${o.edges[i + 1]}): ${c}`)}</title></rect>`);
  });
  out.push('</g>');
  if (o.marker && o.marker.x >= lo && o.marker.x <= hi) {
    out.push(`<line class="marker" x1="${n2(sx(o.marker.x))}" x2="${n2(sx(o.marker.x))}" y1="${l.top}" y2="${l.bottom}" stroke="#d55e00" stroke-width="2" stroke-dasharray="6 3"/>`);
  }
  if (entries.length) out.push(...legend(l, entries));
  out.push('</svg>');
  return out.join('\n');
};

/** A small string hash (FNV-1a), for ids unique to a figure's content. */
const hash = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
};
