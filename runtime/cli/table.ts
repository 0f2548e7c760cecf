/** Plain-text tables for the CLI: right-aligned numbers, left-aligned text. */

/** Formats rows as an aligned table with a header rule; `footer` rows come after a second rule. */
export const formatTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, footer: ReadonlyArray<ReadonlyArray<string>> = []): string => {
  const all = [header, ...rows, ...footer];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const numeric = header.map((_, c) => rows.every((r) => /^[-+]?[\d,.]*%?$|^-$/.test(r[c] ?? '')));
  const line = (r: ReadonlyArray<string>) => r.map((cell, c) => (numeric[c] ? (cell ?? '').padStart(widths[c]) : (cell ?? '').padEnd(widths[c]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line), ...(footer.length ? [rule, ...footer.map(line)] : [])].join('\n');
};

/** 1234567 -> "1,234,567" */
export const thousands = (n: number): string => n.toLocaleString('en-US');
