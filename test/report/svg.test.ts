import { describe, expect, it } from 'vitest';
import { escapeXml, histogram, linePlot, niceTicks } from '../../runtime/report/svg.ts';

/** Checks that every tag is closed in order (a small XML well-formedness check). */
const wellFormed = (xml: string): void => {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , self] = m;
    if (self) continue;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  expect(xml).not.toMatch(/&(?!amp;|lt;|gt;|quot;|#39;)/); // every & is an entity
};

const attrs = (tag: string): Record<string, string> => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));

describe('niceTicks', () => {
  it('gives round steps (1, 2, 2.5, 5 x 10^k) that cover the domain', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(97.3, 99.4, 5)).toEqual([97, 97.5, 98, 98.5, 99, 99.5]);
    expect(niceTicks(0, 110_000, 5)).toEqual([0, 25_000, 50_000, 75_000, 100_000, 125_000]);
    expect(niceTicks(0, 0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]); // 0.3, not 0.30000000000000004
    expect(niceTicks(1, 15, 6)).toEqual([0, 2.5, 5, 7.5, 10, 12.5, 15]);
    expect(niceTicks(-3, 7, 5)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
  });

  it('widens an empty domain, accepts a reversed one and refuses a non-finite one', () => {
    expect(niceTicks(1, 1, 4)).toEqual([0.9, 0.95, 1, 1.05, 1.1]);
    expect(niceTicks(0, 0, 2)).toEqual([-1, 0, 1]);
    expect(niceTicks(1, 0, 5)).toEqual(niceTicks(0, 1, 5));
    expect(() => niceTicks(0, Infinity)).toThrow(/finite/);
  });
});

describe('linePlot', () => {
  const svg = linePlot({
    title: 'A <title> & more',
    xLabel: 'noise level',
    yLabel: 'accuracy (%)',
    width: 600,
    height: 300,
    xDomain: [0, 1],
    yDomain: [0, 100],
    series: [
      { name: 'Dense', points: [[0, 0], [0.5, 50], [1, 100]] },
      { name: 'Sparse "k-winners"', points: [[0, 100], [1, 20]], band: [[0, 90, 100], [1, 10, 30]], dashed: true },
    ],
  });

  it('is a well-formed SVG with escaped text, axis labels, ticks and a legend', () => {
    wellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('A &lt;title&gt; &amp; more');
    expect(svg).toContain('>noise level</text>');
    expect(svg).toContain('>accuracy (%)</text>');
    for (const t of ['0', '0.2', '0.4', '0.6', '0.8', '1']) expect(svg).toContain(`>${t}</text>`);
    expect(svg).toContain('<g class="legend">');
    expect(svg).toContain('Sparse &quot;k-winners&quot;');
    expect(svg).not.toMatch(/<script|href="http|url\(http/);
  });

  it('maps data to pixels: the domain corners are the plot corners', () => {
    const lines = [...svg.matchAll(/<polyline [^>]*>/g)].map((m) => attrs(m[0]));
    expect(lines).toHaveLength(2);
    const pts = lines[0].points.split(' ').map((p) => p.split(',').map(Number));
    // left margin 64; bottom = height - 48; top = 34 with a title; right = width - 16 - legend width
    expect(pts[0]).toEqual([64, 252]);
    expect(pts[2][1]).toBe(34);
    expect(pts[1][0]).toBeCloseTo((64 + pts[2][0]) / 2, 1); // x = 0.5 is half way
    expect(pts[1][1]).toBeCloseTo((252 + 34) / 2, 1);
    expect(lines[1]['stroke-dasharray']).toBe('6 3');
    expect(lines[0].stroke).not.toBe(lines[1].stroke);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(1);
  });

  it('derives a nice domain from the data, skips non-finite points, and draws no legend for one series', () => {
    const one = linePlot({ xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'only', points: [[1, 0.31], [2, NaN], [3, 0.12]] }] });
    wellFormed(one);
    expect(one).not.toContain('class="legend"');
    expect(one.match(/<circle /g)).toHaveLength(2);
    expect(one).toContain('>0.35</text>'); // the y ticks cover 0.12..0.31 with round values
  });
});

describe('histogram', () => {
  it('draws one bar per non-empty bin, heights proportional to the counts, and a marker', () => {
    const svg = histogram({ xLabel: 'duty cycle', yLabel: 'units', edges: [0, 0.1, 0.2, 0.3, 0.4], counts: [10, 0, 20, 5], marker: { x: 0.1, label: 'k/n' }, height: 300 });
    wellFormed(svg);
    const bars = [...svg.slice(svg.indexOf('<g class="bars"')).matchAll(/<rect [^>]*>/g)].map((m) => attrs(m[0]));
    expect(bars).toHaveLength(3);
    const heights = bars.map((b) => Number(b.height));
    expect(heights[1] / heights[0]).toBeCloseTo(2, 2);
    expect(heights[2] / heights[0]).toBeCloseTo(0.5, 2);
    expect(Number(bars[1].y) + heights[1]).toBeCloseTo(300 - 48, 1); // bars stand on the x axis
    const marker = attrs(svg.match(/<line class="marker"[^>]*>/)![0]);
    expect(Number(marker.x1)).toBeCloseTo(Number(bars[0].x) + Number(bars[0].width) + 0.5, 0);
    expect(svg).toContain('>k/n</text>');
  });

  it('refuses edges that do not fit the counts', () => {
    expect(() => histogram({ xLabel: 'x', yLabel: 'y', edges: [0, 1], counts: [1, 2] })).toThrow(/2 counts need 3 edges, got 2/);
    expect(() => histogram({ xLabel: 'x', yLabel: 'y', edges: [0, 1, 1], counts: [1, 2] })).toThrow(/ascending/);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  });
});
