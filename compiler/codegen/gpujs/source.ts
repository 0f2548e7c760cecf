/**
 * Building gpu.js kernel source safely. Generated kernel source must never contain text from a
 * model file, and must respect gpu.js's silent traps (see shared/notes/gpujs.md):
 *
 * - **Loop cap.** A loop only runs past `loopMaxIterations` (default 1000) when it starts
 *   `let i = 0`, and its bound is a literal; `forRange` emits exactly that, and
 *   `kernelSettings` sets a large `loopMaxIterations` anyway.
 * - **Float32 indices.** Flat index arithmetic may be done in f32 on webasm/GL/WebGPU, so reads
 *   past element 2^24 silently hit the wrong element: large arrays are read with 2-D indices
 *   (`at2`), whose parts stay small, over `input(flat, [width, height])`.
 * - **Thresholds.** cpu mode computes in f64 and the others in f32, so keys compared against a
 *   threshold are rounded with `Math.fround` (`f32`) to pick the same winners everywhere.
 * - **Seeds.** gpu.js's `Math.random` ignores seeds on cpu, repeats per call on webasm and is
 *   coarse on GL, so kernels may not call it: random masks come from the host's seeded stream.
 *
 * Only numbers validated here and identifiers matching the compiler's own pattern can be
 * emitted, and `checkKernelSource` verifies a whole source before it reaches gpu.js.
 *
 * @example
 * import { kernelSource, forRange, id, int } from 'winnow/compiler/codegen/gpujs/source';
 * kernelSource(['x'], [...forRange('i', 784, ['s += x[this.thread.y][i];'])], 's');
 */

/** Identifiers the compiler makes: a lower-case letter, then letters, digits or `_`, at most 32. */
const identifierPattern = /^[a-z][A-Za-z0-9_]{0,31}$/;

/** JavaScript words that may not be used as compiler identifiers. */
const reserved = new Set(['let', 'const', 'var', 'for', 'if', 'else', 'return', 'function', 'this', 'new', 'typeof', 'in', 'of', 'while', 'do', 'break', 'continue', 'null', 'true', 'false', 'undefined', 'constructor', 'prototype']);

/** A compiler-made identifier, checked. */
export const id = (name: string): string => {
  if (!identifierPattern.test(name) || reserved.has(name)) throw new Error(`gpu.js codegen: ${JSON.stringify(name)} is not a compiler identifier`);
  return name;
};

/** An integer literal (a safe, finite integer). */
export const int = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new Error(`gpu.js codegen: ${n} is not a safe integer`);
  return String(n);
};

/** A float literal: always written with a decimal point or exponent, so gpu.js types it as a float. */
export const float = (x: number): string => {
  if (!Number.isFinite(x)) throw new Error(`gpu.js codegen: ${x} is not a finite number`);
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** `Math.fround(expr)`: rounds a threshold key to f32 so every mode compares the same values. */
export const f32 = (expr: string): string => `Math.fround(${expr})`;

/** `a[row][col]`: a 2-D read, for arrays passed as `input(flat, [cols, rows])`. */
export const at2 = (array: string, row: string, col: string): string => `${id(array)}[${row}][${col}]`;

/** A loop gpu.js counts as bounded: literal start 0, literal bound, `++` update. */
export const forRange = (v: string, bound: number, body: ReadonlyArray<string>): string[] => [
  `for (let ${id(v)} = 0; ${v} < ${int(bound)}; ${v}++) {`,
  ...body.map((line) => `  ${line}`),
  '}',
];

/**
 * Loop iterations one kernel invocation may run in all on Mesa's software renderers (llvmpipe,
 * lavapipe: gallivm's loop limiter, which WebGPU reaches through Dawn on a machine without a GPU):
 * past it every loop of the invocation stops silently. Generated kernels stay under it by
 * unrolling (`forRangeUnrolled`).
 */
export const SOFTWARE_LOOP_LIMIT = 65535;

/** Renames the `let` locals (and loop variables) declared in `lines` with a suffix, and replaces `v` by `index`. */
const instantiate = (lines: ReadonlyArray<string>, v: string, index: string, suffix: string): string[] => {
  const declared = new Set(lines.flatMap((l) => [...l.matchAll(/\blet ([A-Za-z_$][A-Za-z0-9_$]*)/g)].map((m) => m[1])));
  const rename = (l: string) =>
    l.replace(/(\.\s*)?\b([A-Za-z_$][A-Za-z0-9_$]*)\b/g, (all, dot: string | undefined, word: string, at: number) => {
      if (dot || /[0-9.]/.test(l[at - 1] ?? '')) return all; // a property, or a number's exponent
      if (word === v) return index;
      return declared.has(word) ? id(`${word}_${suffix}`) : all;
    });
  return lines.map(rename);
};

/**
 * `forRange` with its body repeated `unroll` times per iteration (the loop runs floor(bound /
 * unroll) times; the remainder, or the whole loop when unroll >= bound, is straight-line code).
 * Each copy reads `v` as its own index and gets its own copies of the body's locals, so the
 * statements run in exactly `forRange`'s order: only the loop's iteration count changes.
 */
export const forRangeUnrolled = (v: string, bound: number, unroll: number, body: ReadonlyArray<string>): string[] => {
  int(unroll);
  const u = Math.min(unroll, Number(int(bound)));
  if (u <= 1) return forRange(v, bound, body);
  const chunks = Math.floor(bound / u);
  const out: string[] = [];
  if (u < bound) {
    const copies = Array.from({ length: u }, (_, c) => instantiate(body, v, `(${id(v)} * ${int(u)} + ${int(c)})`, `u${c}`)).flat();
    out.push(...forRange(v, chunks, copies));
  }
  for (let i = u < bound ? chunks * u : 0; i < bound; i++) out.push(...instantiate(body, v, int(i), `r${i}`));
  return out;
};

/** Loop iterations (back-edges) of `forRangeUnrolled(v, bound, unroll, body)` when one run of the body takes `inner`. */
export const unrolledIterations = (bound: number, unroll: number, inner: number): number => {
  const u = Math.min(unroll, bound);
  if (u <= 1) return bound * (1 + inner);
  const chunks = u < bound ? Math.floor(bound / u) : 0;
  return chunks * (1 + u * inner) + (bound - chunks * u) * inner;
};

/** A kernel function's source: `function (params) { body; return result; }`. */
export const kernelSource = (params: ReadonlyArray<string>, body: ReadonlyArray<string>, result: string): string =>
  checkKernelSource(['function (' + params.map(id).join(', ') + ') {', ...body.map((l) => `  ${l}`), `  return ${result};`, '}'].join('\n'));

/** Settings for `gpu.createKernel` that avoid the loop cap. */
export const kernelSettings = (output: ReadonlyArray<number>) => ({
  output: [...output],
  loopMaxIterations: 1 << 30,
  precision: 'single' as const,
  tactic: 'precision' as const,
});

/** Keywords and globals a kernel may use. */
const keywords = new Set(['function', 'let', 'for', 'if', 'else', 'return', 'this', 'Math', 'break']);

/** Properties a kernel may read: the thread index and a few Math functions. */
const properties = new Set(['thread', 'x', 'y', 'z', 'fround', 'exp', 'max', 'min', 'abs', 'sqrt', 'log', 'floor']);

/**
 * Throws unless `source` holds only keywords, its own parameters and `let` locals (compiler
 * identifiers), the allowed properties, numbers and operators: no strings, comments or any other
 * name, so nothing from a model file (or anywhere else) can reach a kernel.
 */
export const checkKernelSource = (source: string): string => {
  if (/["'`\\]|\/\/|\/\*/.test(source)) throw new Error('gpu.js codegen: kernel source contains a string, escape or comment');
  if (/[^A-Za-z0-9_$\s()[\]{};,.+\-*/%<>=!&|?:]/.test(source)) throw new Error('gpu.js codegen: kernel source contains an unexpected character');
  const params = /^function \(([^)]*)\)/.exec(source);
  if (!params) throw new Error('gpu.js codegen: kernel source must start with `function (...)`');
  const declared = new Set([...params[1].split(',').map((p) => p.trim()).filter(Boolean), ...[...source.matchAll(/\blet ([A-Za-z_$][A-Za-z0-9_$]*)/g)].map((m) => m[1])]);
  for (const name of declared) id(name);
  if (/\bMath\s*\.\s*random\b/.test(source)) {
    // gpu.js randoms ignore seeds on cpu, repeat per call on webasm and are coarse on GL: masks
    // (dropout, DropConnect) come from the host's seeded stream instead.
    throw new Error('gpu.js codegen: kernel source calls Math.random; random masks must come from the seeded host stream');
  }
  for (const m of source.matchAll(/(\.?)\s*([A-Za-z_$][A-Za-z0-9_$]*)/g)) {
    const [, dot, word] = m;
    const before = source[m.index! - 1];
    if (before !== undefined && /[0-9.]/.test(before) && !dot) continue; // exponent of a number literal
    const ok = dot ? properties.has(word) : keywords.has(word) || declared.has(word);
    if (!ok) throw new Error(`gpu.js codegen: kernel source contains ${JSON.stringify(word)}, which the compiler did not make`);
  }
  return source;
};
