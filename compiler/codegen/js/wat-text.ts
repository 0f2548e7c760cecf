/**
 * Small builders of WebAssembly text shared by the cpu backend's code generators (`wat.ts`,
 * `conv.ts`, `sparse.ts`, `sparse-conv.ts`, `sparse-weights.ts`): integer constants, locals and
 * address arithmetic, and the counted loop of the sparse kernels. Every constant is checked to be
 * a valid unsigned 32-bit integer, so a generator can never emit anything but a number there.
 *
 * @example
 * // set('i', add(get('i'), i32(4)))  ->  '(local.set $i (i32.add (local.get $i) (i32.const 4)))'
 */

/** `(i32.const n)`, refusing anything but an unsigned 32-bit integer. */
export const i32 = (n: number): string => {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`wat: bad constant ${n}`);
  return `(i32.const ${n})`;
};
export const get = (v: string): string => `(local.get $${v})`;
export const set = (v: string, e: string): string => `(local.set $${v} ${e})`;
export const add = (a: string, b: string): string => `(i32.add ${a} ${b})`;
export const sub = (a: string, b: string): string => `(i32.sub ${a} ${b})`;
export const mul = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
export const divU = (a: string, b: string): string => `(i32.div_u ${a} ${b})`;

/** `for (v = from; v < to; v += step) body`, bounds being expressions evaluated before the loop / at each test (unsigned). */
export const forLoop = (v: string, from: string, to: string, step: number, body: ReadonlyArray<string>, label: string): string[] => [
  set(v, from),
  `(block $${label}x (loop $${label}l`,
  `(br_if $${label}x (i32.ge_u ${get(v)} ${to}))`,
  ...body,
  set(v, add(get(v), i32(step))),
  `(br $${label}l)))`,
];

/** Fresh loop labels within one function (`L0`, `L1`, ...). */
export const labels = () => {
  let n = 0;
  return (): string => `L${n++}`;
};

/**
 * `for (v = from; v < to; v += step) body`, the bound an expression tested before every iteration,
 * unsigned or `signed`; the body indented (the convolution kernels' loop).
 */
export const blockLoop = (label: string, v: string, from: string, to: string, step: number, body: ReadonlyArray<string>, signed = false): string[] => [
  set(v, from),
  `(block $${label}x (loop $${label}l`,
  `  (br_if $${label}x (i32.ge_${signed ? 's' : 'u'} ${get(v)} ${to}))`,
  ...body.map((l) => `  ${l}`),
  `  ${set(v, add(get(v), i32(step)))}`,
  `  (br $${label}l)))`,
];
