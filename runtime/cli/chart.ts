/**
 * A terminal line chart: a few series over the same labelled x values (for `.sweep` in
 * `winnow repl`), drawn with Unicode box-drawing characters or, for plain output, ASCII only.
 * The y axis spans the data (padded), so small differences between runs stay visible.
 *
 * @example
 * import { lineChart } from 'winnow/runtime/cli/chart';
 * lineChart(['0.05', '0.1', '0.2'], [{ name: 'accuracy', values: [0.91, 0.94, 0.93] }], { format: (v) => `${(v * 100).toFixed(1)}%`, ascii: true });
 * // 94.2% +               *
 * //       |             .   .
 * //       ...
 */

/** One line of the chart. */
export interface ChartSeries {
  readonly name: string;
  readonly values: ReadonlyArray<number>;
}

/** How to draw it. */
export interface ChartOptions {
  /** Rows of the plot area (default 10). */
  readonly height?: number;
  /** ASCII characters only (default: Unicode). */
  readonly ascii?: boolean;
  /** Formats a y value for the axis (default: 3 significant digits). */
  readonly format?: (v: number) => string;
  /** A caption under the x labels (the swept setting). */
  readonly xTitle?: string;
}

const glyphs = {
  unicode: { markers: ['●', '◆', '▲', '■'], both: '✚', dot: '·', axis: '│', tick: '┤', corner: '└', rule: '─', xTick: '┴' },
  ascii: { markers: ['*', 'o', '+', '#'], both: '@', dot: '.', axis: '|', tick: '+', corner: '+', rule: '-', xTick: '+' },
};

/** Draws the series as text (one line per row, then the x axis, its labels and a legend). */
export const lineChart = (xLabels: ReadonlyArray<string>, series: ReadonlyArray<ChartSeries>, options: ChartOptions = {}): string => {
  const g = options.ascii ? glyphs.ascii : glyphs.unicode;
  const height = Math.max(3, options.height ?? 10);
  const format = options.format ?? ((v: number) => String(+v.toPrecision(3)));
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  if (xLabels.length === 0 || all.length === 0) return '(nothing to chart)';
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(hi) * 0.05 || 1;
  lo -= pad;
  hi += pad;
  const row = (v: number) => Math.round(((v - lo) / (hi - lo)) * (height - 1)); // 0 = bottom
  const step = Math.max(4, ...xLabels.map((l) => l.length + 2));
  const width = step * (xLabels.length - 1) + 1;
  const grid = Array.from({ length: height }, () => new Array<string>(width).fill(' '));
  const owner = Array.from({ length: height }, () => new Array<number>(width).fill(-1));
  series.forEach((s) => {
    // the connecting dots first, so markers win where they meet
    for (let i = 0; i + 1 < s.values.length && i + 1 < xLabels.length; i++) {
      const [a, b] = [s.values[i], s.values[i + 1]];
      if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
      for (let x = 1; x < step; x++) {
        const r = row(a + ((b - a) * x) / step);
        const c = i * step + x;
        if (grid[r][c] === ' ') grid[r][c] = g.dot;
      }
    }
  });
  series.forEach((s, si) => {
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v) || i >= xLabels.length) return;
      const r = row(v);
      const c = i * step;
      const marker = g.markers[si % g.markers.length];
      grid[r][c] = owner[r][c] >= 0 && owner[r][c] !== si ? g.both : marker;
      owner[r][c] = si;
    });
  });
  const ticks = new Map([[height - 1, hi], [Math.floor((height - 1) / 2), lo + ((hi - lo) * Math.floor((height - 1) / 2)) / (height - 1)], [0, lo]]);
  const labelWidth = Math.max(...[...ticks.values()].map((v) => format(v).length));
  const lines: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const tick = ticks.get(r);
    const label = tick === undefined ? ''.padStart(labelWidth) : format(tick).padStart(labelWidth);
    lines.push(`${label} ${tick === undefined ? g.axis : g.tick}${grid[r].join('')}`.trimEnd());
  }
  const axis = Array.from({ length: width }, (_, c) => (c % step === 0 ? g.xTick : g.rule)).join('');
  lines.push(`${''.padStart(labelWidth)} ${g.corner}${axis}`);
  let labels = '';
  xLabels.forEach((l, i) => {
    const at = i * step;
    labels = labels.padEnd(at) + l;
  });
  lines.push(`${''.padStart(labelWidth)}  ${labels}`.trimEnd());
  if (options.xTitle) lines.push(`${''.padStart(labelWidth)}  ${options.xTitle}`);
  lines.push(`${''.padStart(labelWidth)}  ${series.map((s, si) => `${g.markers[si % g.markers.length]} ${s.name}`).join('   ')}${series.length > 1 ? `   ${g.both} both` : ''}`);
  return lines.join('\n');
};
