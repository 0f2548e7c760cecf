/**
 * WebAssembly (text format) for the CPU backend's matrix products, with f32x4 SIMD and register
 * blocking: sizes and byte offsets are baked in as constants. Two forms cover dense layers:
 *
 * - `dotNT`: C[m][n] = sum_k A[m][k] B[n][k] (both contiguous in k): the forward product x W^T;
 *   4 x 2 blocks of dot products, SIMD along k.
 * - `axpyNN`: C[m][n] = sum_k A(m, k) B[k][n] with A read at m * aRow + k * aCol: dx = g W and
 *   dW = g^T x; 4 rows x 8 columns per block, SIMD along n.
 *
 * Remainders (rows, columns, k) get smaller blocks or scalar code, so any size works.
 *
 * Every function takes a row range `(m0, m1)` and computes exactly rows m0 <= m < m1 of C, so
 * threads can share a product by rows (the cpu backend's worker threads). Each element of C is
 * computed by the same sequence of operations whichever block it falls in, so results do not
 * depend on how the rows are split. The module imports its memory non-shared by default;
 * `withSharedMemory` makes the variant that imports a shared memory (for worker threads).
 */
import { i32, get, set, add, mul } from './wat-text.ts';

/** A product to generate. Offsets are in bytes. */
export interface MatmulSpec {
  readonly form: 'dotNT' | 'axpyNN';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** axpyNN only: A(m, k) is at element m * aRow + k * aCol. */
  readonly aRow?: number;
  readonly aCol?: number;
}


/** `for (v = from; v < to; v += step) body` (nothing when the range is empty). */
const loop = (v: string, from: number, to: number, step: number, body: string[], label: string): string[] =>
  to <= from
    ? []
    : [
        set(v, i32(from)),
        `(block $${label}x (loop $${label}l`,
        ...body,
        set(v, add(get(v), i32(step))),
        `(br_if $${label}l (i32.lt_u ${get(v)} ${i32(to)}))))`,
      ];

const hsum = (v: string) =>
  `(f32.add (f32.add (f32x4.extract_lane 0 ${get(v)}) (f32x4.extract_lane 1 ${get(v)})) (f32.add (f32x4.extract_lane 2 ${get(v)}) (f32x4.extract_lane 3 ${get(v)})))`;

/**
 * `for (m = from; m < to; m += step) body` over the function's row range (bounds are locals, tested
 * before each iteration, so an empty range does nothing).
 */
const rowLoop = (from: string, to: string, step: number, body: string[], label: string): string[] => [
  set('m', get(from)),
  `(block $${label}x (loop $${label}l`,
  `(br_if $${label}x (i32.ge_u ${get('m')} ${get(to)}))`,
  ...body,
  set('m', add(get('m'), i32(step))),
  `(br $${label}l)))`,
];

/** Locals every generated function declares (after its parameters $m0 and $m1). */
const locals = (): string[] => {
  const out = ['m4', 'm', 'n', 'k', 'pa', 'pb'].map((v) => `(local $${v} i32)`);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) out.push(`(local $v${i}${j} v128) (local $s${i}${j} f32)`);
  for (let i = 0; i < 4; i++) out.push(`(local $x${i} v128)`);
  for (let j = 0; j < 2; j++) out.push(`(local $w${j} v128) (local $w${j + 2} v128)`);
  return out;
};

/** dotNT block of R rows x C columns over m in [$m0, $m1) (locals), n in [n0, n1). */
const dotBlock = (s: MatmulSpec, R: number, C: number, m0: string, m1: string, n0: number, n1: number, tag: string): string[] => {
  const K4 = s.k - (s.k % 4);
  const rowBytes = s.k * 4;
  const accs: [number, number][] = [];
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) accs.push([i, j]);
  const inner = [
    ...accs.map(([i, j]) => set(`v${i}${j}`, '(v128.const i32x4 0 0 0 0)')),
    set('pa', add(i32(s.a), mul(get('m'), i32(rowBytes)))),
    set('pb', add(i32(s.b), mul(get('n'), i32(rowBytes)))),
    ...loop('k', 0, K4 * 4, 16, [
      ...Array.from({ length: R }, (_, i) => set(`x${i}`, `(v128.load offset=${i * rowBytes} ${add(get('pa'), get('k'))})`)),
      ...Array.from({ length: C }, (_, j) => set(`w${j}`, `(v128.load offset=${j * rowBytes} ${add(get('pb'), get('k'))})`)),
      ...accs.map(([i, j]) => set(`v${i}${j}`, `(f32x4.add ${get(`v${i}${j}`)} (f32x4.mul ${get(`x${i}`)} ${get(`w${j}`)}))`)),
    ], `${tag}k`),
    ...accs.map(([i, j]) => set(`s${i}${j}`, hsum(`v${i}${j}`))),
    ...loop('k', K4 * 4, s.k * 4, 4, accs.map(([i, j]) =>
      set(`s${i}${j}`, `(f32.add ${get(`s${i}${j}`)} (f32.mul (f32.load offset=${i * rowBytes} ${add(get('pa'), get('k'))}) (f32.load offset=${j * rowBytes} ${add(get('pb'), get('k'))})))`)), `${tag}t`),
    ...accs.map(([i, j]) => `(f32.store offset=${s.c + (i * s.n + j) * 4} ${mul(add(mul(get('m'), i32(s.n)), get('n')), i32(4))} ${get(`s${i}${j}`)})`),
  ];
  const columns = loop('n', n0, n1, C, inner, `${tag}n`);
  return columns.length ? rowLoop(m0, m1, R, columns, `${tag}m`) : [];
};

/** axpyNN block of R rows x C vectors (4C columns) over m in [$m0, $m1) (locals), n in [n0, n1); C = 0 means one scalar column. */
const axpyBlock = (s: MatmulSpec, R: number, C: number, m0: string, m1: string, n0: number, n1: number, tag: string): string[] => {
  const aRow = s.aRow!;
  const aCol = s.aCol!;
  const rows = Array.from({ length: R }, (_, i) => i);
  const cols = Array.from({ length: Math.max(C, 1) }, (_, j) => j);
  const aAt = (i: number) => `(f32.load offset=${s.a + i * aRow * 4} ${get('pa')})`;
  const bAt = (j: number) => (C ? `(v128.load offset=${s.b + j * 16} ${get('pb')})` : `(f32.load offset=${s.b} ${get('pb')})`);
  const accName = (i: number, j: number) => (C ? `v${i}${j}` : `s${i}${j}`);
  const inner = [
    ...rows.flatMap((i) => cols.map((j) => set(accName(i, j), C ? '(v128.const i32x4 0 0 0 0)' : '(f32.const 0)'))),
    set('pa', mul(mul(get('m'), i32(aRow)), i32(4))),
    set('pb', mul(get('n'), i32(4))),
    ...loop('k', 0, s.k, 1, [
      ...cols.map((j) => set(`w${j}`, C ? bAt(j) : `(f32x4.splat ${bAt(j)})`)),
      ...rows.map((i) => set(`x${i}`, `(f32x4.splat ${aAt(i)})`)),
      ...rows.flatMap((i) => cols.map((j) => C
        ? set(accName(i, j), `(f32x4.add ${get(accName(i, j))} (f32x4.mul ${get(`x${i}`)} ${get(`w${j}`)}))`)
        : set(accName(i, j), `(f32.add ${get(accName(i, j))} (f32.mul ${aAt(i)} ${bAt(j)}))`))),
      set('pa', add(get('pa'), i32(aCol * 4))),
      set('pb', add(get('pb'), i32(s.n * 4))),
    ], `${tag}k`),
    ...rows.flatMap((i) => cols.map((j) => C
      ? `(v128.store offset=${s.c + (i * s.n + 4 * j) * 4} ${mul(add(mul(get('m'), i32(s.n)), get('n')), i32(4))} ${get(accName(i, j))})`
      : `(f32.store offset=${s.c + i * s.n * 4} ${mul(add(mul(get('m'), i32(s.n)), get('n')), i32(4))} ${get(accName(i, j))})`)),
  ];
  const columns = loop('n', n0, n1, C ? 4 * C : 1, inner, `${tag}n`);
  return columns.length ? rowLoop(m0, m1, R, columns, `${tag}m`) : [];
};

/** The body of a product's function, covering rows [$m0, $m1) (blocks of 4 from $m0 up to $m4, then single rows) and every column. */
const matmulBody = (s: MatmulSpec): string[] => {
  const rows = [set('m4', add(get('m0'), `(i32.and (i32.sub ${get('m1')} ${get('m0')}) ${i32(0xfffffffc)})`))];
  if (s.form === 'dotNT') {
    const n2 = s.n - (s.n % 2);
    return [
      ...rows,
      ...dotBlock(s, 4, 2, 'm0', 'm4', 0, n2, 'a'), ...dotBlock(s, 4, 1, 'm0', 'm4', n2, s.n, 'b'),
      ...dotBlock(s, 1, 2, 'm4', 'm1', 0, n2, 'c'), ...dotBlock(s, 1, 1, 'm4', 'm1', n2, s.n, 'd'),
    ];
  }
  const n8 = s.n - (s.n % 8);
  const n4 = s.n - (s.n % 4);
  return [
    ...rows,
    ...axpyBlock(s, 4, 2, 'm0', 'm4', 0, n8, 'a'), ...axpyBlock(s, 4, 1, 'm0', 'm4', n8, n4, 'b'), ...axpyBlock(s, 4, 0, 'm0', 'm4', n4, s.n, 'c'),
    ...axpyBlock(s, 1, 2, 'm4', 'm1', 0, n8, 'd'), ...axpyBlock(s, 1, 1, 'm4', 'm1', n8, n4, 'e'), ...axpyBlock(s, 1, 0, 'm4', 'm1', n4, s.n, 'f'),
  ];
};

const memoryImport = '  (import "env" "mem" (memory 1))';
const sharedMemoryImport = '  (import "env" "mem" (memory 1 65536 shared))';

/**
 * A module importing memory `env.mem` and exporting one function per product, `f0`, `f1`, ...,
 * each `(m0, m1)`: rows m0 <= m < m1 of its product (0 and the product's m for all of it); then
 * the `extra` functions (whole `(func ...)` texts, e.g. the sparse kernels' `s0`, `s1`, ...).
 */
export const matmulModule = (specs: ReadonlyArray<MatmulSpec>, extra: ReadonlyArray<string> = []): string =>
  [
    '(module',
    memoryImport,
    ...specs.map((s, i) => [`  (func (export "f${i}") (param $m0 i32) (param $m1 i32)`, ...locals().map((l) => `    ${l}`), ...matmulBody(s).map((l) => `    ${l}`), '  )'].join('\n')),
    ...extra,
    ')',
  ].join('\n');

/** The same module importing a shared memory (up to 65536 pages, 4 GiB), which worker threads can share; assemble it with the threads feature. */
export const withSharedMemory = (wat: string): string => {
  if (!wat.includes(`\n${memoryImport}\n`)) throw new Error('withSharedMemory: not a module made by matmulModule');
  return wat.replace(`\n${memoryImport}\n`, `\n${sharedMemoryImport}\n`);
};
