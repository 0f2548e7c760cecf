/**
 * The cpu backend's kernels for the convolution sparse forms (`compiler/ops/prim/sparse-conv.ts`,
 * chosen by pass `sparseForms`): WebAssembly SIMD for the scatters (each active value times a
 * contiguous row of re-laid-out weights, or of a channel-last input, added into a channel-last
 * accumulator), JavaScript for the bookkeeping (weight re-layouts, expansions, pooling routes,
 * reading accumulators out into the IR's layouts with the fused ops applied).
 *
 * Like every kernel of the program, each takes a range `(M, lo, hi)` of its partition axis and
 * computes exactly the outputs of that range, each sum in a fixed order (samples in order, each
 * sample's active values in index order), so results do not depend on how the threads split it:
 * - `convScatter` and `convGradXFrom` split by samples; a call accumulates each of its samples in
 *   the scratch slot of its first sample (no other call has that sample), then reads it out;
 * - `convGradWFrom` splits by filters; a call keeps its filters' rows in their own scratch rows and
 *   scans every sample's active gradients for its filters (lists are in index order, so filter order);
 * - the JavaScript kernels split by samples (by rows for `convWeightT`).
 *
 * Sizes and addresses are baked in as numbers; nothing from a model file reaches the text.
 */
import type { Kernel } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { size } from '../../ops/prim/helpers.ts';
import { convWindow, flippedScatter } from '../../ops/prim/sparse-conv.ts';
import { compactLayout } from '../../ops/prim/sparse.ts';
import { elementwiseExpr, intLit as int, type Reader } from '../expr.ts';
import { poolFunction, pooledPerSample, type AbsorbedPool, type ConvKernelCode, type WasmFunctions } from './conv.ts';
import type { AddressOf } from './program.ts';
import { add, blockLoop, divU, get, i32, labels, mul, set, sub } from './wat-text.ts';

/** The primitives whose kernels this module generates. */
export const sparseConvOps: ReadonlySet<string> = new Set(['convWeightT', 'channelLast', 'convScatter', 'convGradXFrom', 'convGradWFrom', 'maxPoolGradCompact', 'expand', 'pickAt']);

/** The kernel of `k` when its root is a convolution sparse form, else undefined. `scratch` is the program's scratch area. */
export const sparseConvKernel = (ir: IR, k: Kernel, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions, pool?: AbsorbedPool): ConvKernelCode | undefined => {
  const root = ir.ops[k.ops[0]];
  if (!sparseConvOps.has(root.op)) return undefined;
  const fusable = root.op === 'convScatter' || root.op === 'convGradWFrom' || root.op === 'expand' || (root.op === 'convGradXFrom' && root.inputs.length === 2);
  if (k.ops.length > 1 && !fusable) throw new Error(`codegen: ${root.op} cannot take fused ops`);
  const g = { ir, k, op: root, batch, addr, scratch, wasm, pool };
  switch (root.op) {
    case 'convWeightT':
      return weightT(g);
    case 'channelLast':
      return channelLast(g);
    case 'maxPoolGradCompact':
      return poolGradCompact(g);
    case 'expand':
      return expand(g);
    case 'pickAt':
      return pickAt(g);
    case 'convScatter':
      return root.attrs.stride === 1 && ir.ops[root.inputs[1]].attrs.order === 'ckkfFlip' ? scatterRuns(g) : scatter(g);
    case 'convGradXFrom':
      return gradXFrom(g);
    default:
      return gradWFrom(g);
  }
};

interface Gen {
  readonly ir: IR;
  readonly k: Kernel;
  readonly op: Op;
  readonly batch: number;
  readonly addr: AddressOf;
  readonly scratch: number;
  readonly wasm: WasmFunctions;
  /** The pooling a convScatter kernel does sample by sample (conv.ts `absorbedPool`). */
  readonly pool?: AbsorbedPool;
}

const attrs = (op: Op) => op.attrs as Record<string, number>;
const align4 = (n: number): number => (n + 3) & ~3;

// ---- JavaScript helpers ----

const fn = (k: Kernel, extent: number, body: ReadonlyArray<string>): string =>
  [`function ${k.name}(M, lo = 0, hi = ${int(extent)}) {`, ...(body.some((l) => /\bI\[/.test(l)) ? [`  ${intView}`] : []), ...body.map((l) => `  ${l}`), '}'].join('\n');

/** The memory's int32 view, for compact values' indices (int32 bit patterns in the float memory). */
const intView = 'const I = new Int32Array(M.buffer, M.byteOffset, M.length);';

/** Statements applying the kernel's fused ops to `v` and storing it at output element `o` (`b`, `e` as in program.ts for batched outputs). */
const store = (g: Gen): string[] => {
  const { ir, k, addr, batch } = g;
  const r: Reader = {
    same: (v) => `M[${int(addr(v))} + o]`,
    at: (v, index) => `M[${int(addr(v))} + ${index}]`,
    row: (v, index) => `M[${int(addr(v))} + b * ${int(size(ir.ops[v].shape!))} + ${index}]`,
    scalar: (v) => `M[${int(addr(v))}]`,
    elem: ir.ops[k.output].batched ? 'e' : 'o',
    batch: int(batch),
  };
  return [...k.ops.slice(1).map((o) => `v = ${elementwiseExpr(ir.ops[o], 'v', r)};`), `M[${int(addr(k.output))} + o] = v;`];
};

/** Statements applying fused ops `ops` (a tail of the kernel's) to `v` and storing it at output element `o`. */
const storeRest = (g: Gen, ops: ReadonlyArray<number>): string[] => store({ ...g, k: { ...g.k, ops: [g.k.ops[0], ...ops] } });

/** Address (JS text) of sample b's record of compact value v. */
const rec = (g: Gen, v: number, b = 'b'): string => `${int(g.addr(v))} + ${b} * ${int(compactLayout(capOf(g.ir.ops[v])).stride)}`;

/** The capacity of a compact value from its per-sample size. */
const capOf = (op: Op): number => {
  const stride = op.shape![0];
  return (stride - 4) / 2;
};

/** `(c, y, x)` of a flat index `idx` over `[C, H, W]` (JS statements declaring them). */
const unflatten = (idx: string, H: number, W: number, names: [string, string, string]): string[] => [
  `const ${names[0]} = Math.floor(${idx} / ${int(H * W)}), r_ = ${idx} - ${names[0]} * ${int(H * W)};`,
  `const ${names[1]} = Math.floor(r_ / ${int(W)}), ${names[2]} = r_ - ${names[1]} * ${int(W)};`,
];

// ---- JavaScript kernels ----

/** convWeightT: one output row per unit of the range (the sums row, when present, is the last). */
const weightT = (g: Gen): ConvKernelCode => {
  const { filters: F, channels: C, kernel: K } = attrs(g.op);
  const W = g.addr(g.op.inputs[0]);
  const out = g.addr(g.op.id);
  const CKK = C * K * K;
  const KK = K * K;
  let rows: number;
  let body: string[];
  if (g.op.attrs.order !== 'fkkc') {
    // row r = (c, ky, j): tap kx = j (ckkf) or K - 1 - j (ckkfFlip)
    const tap = g.op.attrs.order === 'ckkf' ? 'r' : `r - (r % ${int(K)}) + ${int(K - 1)} - (r % ${int(K)})`;
    rows = CKK + (g.op.attrs.sums ? 1 : 0);
    body = [
      'for (let r = lo; r < hi; r++) {',
      `  const o = ${int(out)} + r * ${int(F)}, t = ${tap};`,
      `  if (r < ${int(CKK)}) for (let f = 0; f < ${int(F)}; f++) M[o + f] = M[${int(W)} + f * ${int(CKK)} + t];`,
      `  else for (let f = 0; f < ${int(F)}; f++) { let s = 0; for (let t = 0; t < ${int(CKK)}; t++) s += M[${int(W)} + f * ${int(CKK)} + t]; M[o + f] = s; }`,
      '}',
    ];
  } else {
    rows = F * KK;
    body = [
      'for (let r = lo; r < hi; r++) {',
      `  const o = ${int(out)} + r * ${int(C)}, f = Math.floor(r / ${int(KK)}), tap = r - f * ${int(KK)};`,
      `  for (let c = 0; c < ${int(C)}; c++) M[o + c] = M[${int(W)} + f * ${int(CKK)} + c * ${int(KK)} + tap];`,
      '}',
    ];
  }
  return { text: fn(g.k, rows, body), partition: { extent: rows, grain: 1, work: rows * (g.op.attrs.order === 'fkkc' ? C : F) }, scratchFloats: 0 };
};

/** channelLast: per sample, the padded channel-last planes cleared (the padding) or set to the compact value's base, then its values placed. */
const channelLast = (g: Gen): ConvKernelCode => {
  const { channels: C, height: H, width: W, pad: P, rows, cols, cap } = attrs(g.op);
  const v = g.op.inputs[0];
  const out = g.addr(g.op.id);
  const per = rows * cols * C;
  const yEnd = Math.min(H, rows - P);
  const xEnd = Math.min(W, cols - P);
  const at = (y: string, x: string, c: string) => `${int(out)} + b * ${int(per)} + ((${y} + ${int(P)}) * ${int(cols)} + ${x} + ${int(P)}) * ${int(C)} + ${c}`;
  const L = compactLayout(cap || 1);
  const body = cap > 0
    ? [
        'for (let b = lo; b < hi; b++) {',
        `  const cb = ${rec(g, v)}, n = M[cb], base = M[cb + 1];`,
        `  M.fill(0, ${int(out)} + b * ${int(per)}, ${int(out)} + (b + 1) * ${int(per)});`,
        `  if (base !== 0) for (let y = 0; y < ${int(yEnd)}; y++) for (let x = 0; x < ${int(xEnd)}; x++) for (let c = 0; c < ${int(C)}; c++) M[${at('y', 'x', 'c')}] = base;`,
        '  for (let t = 0; t < n; t++) {',
        `    const idx = I[cb + ${int(L.index)} + t];`,
        ...unflatten('idx', H, W, ['c', 'y', 'x']).map((l) => `    ${l}`),
        `    if (y < ${int(yEnd)} && x < ${int(xEnd)}) M[${at('y', 'x', 'c')}] = base + M[cb + ${int(L.value)} + t];`,
        '  }',
        '}',
      ]
    : [
        'for (let b = lo; b < hi; b++) {',
        `  M.fill(0, ${int(out)} + b * ${int(per)}, ${int(out)} + (b + 1) * ${int(per)});`,
        `  const xb = ${int(g.addr(v))} + b * ${int(C * H * W)};`,
        `  for (let c = 0; c < ${int(C)}; c++) for (let y = 0; y < ${int(yEnd)}; y++) for (let x = 0; x < ${int(xEnd)}; x++) M[${at('y', 'x', 'c')}] = M[xb + (c * ${int(H)} + y) * ${int(W)} + x];`,
        '}',
      ];
  return { text: fn(g.k, g.batch, body), partition: { extent: g.batch, grain: 1, work: g.batch * per }, scratchFloats: 0 };
};

/**
 * maxPoolGradCompact (WebAssembly): per sample, each active pooled gradient (every pooled element,
 * in order, when g is dense) moved to its window's first maximum of y (the forward's row-major
 * scan, `t > m`); the list stays in index order.
 */
const poolGradCompact = (g: Gen): ConvKernelCode => {
  const { size: P, channels: C, height: H, width: W, outH, outW, gCap, cap } = attrs(g.op);
  const [gv, y] = g.op.inputs;
  const G = compactLayout(gCap || 1);
  const O = compactLayout(cap);
  const pooled = C * outH * outW;
  const next = labels();
  const scan: string[] = [];
  for (let ky = 0; ky < P; ky++) {
    for (let kx = 0; kx < P; kx++) {
      if (!ky && !kx) continue;
      scan.push(
        set('pt', `(f32.load offset=${(ky * W + kx) * 4} ${get('pw')})`),
        set('q', `(f32.gt ${get('pt')} ${get('pm')})`),
        set('pm', `(select ${get('pt')} ${get('pm')} ${get('q')})`),
        set('x', `(select ${i32(ky * W + kx)} ${get('x')} ${get('q')})`),
      );
    }
  }
  const body = forLoop(next(), 'b', get('lo'), get('hi'), 1, [
    set('pc', gCap > 0 ? add(i32(g.addr(gv) * 4), mul(get('b'), i32(G.stride * 4))) : add(i32(g.addr(gv) * 4), mul(get('b'), i32(pooled * 4)))),
    set('pa', add(i32(g.addr(g.op.id) * 4), mul(get('b'), i32(O.stride * 4)))),
    set('n', gCap > 0 ? '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))' : i32(pooled)),
    `(f32.store ${get('pa')} (f32.convert_i32_u ${get('n')}))`,
    `(f32.store offset=4 ${get('pa')} (f32.const 0))`,
    set('p0', add(i32(g.addr(y) * 4), mul(get('b'), i32(C * H * W * 4)))),
    ...forLoop(next(), 'j', i32(0), get('n'), 1, [
      set('idx', gCap > 0 ? `(i32.load offset=${G.index * 4} ${add(get('pc'), mul(get('j'), i32(4)))})` : get('j')),
      ...splitIndex(outH, outW, 'oy', 'ox'),
      set('y', add(add(mul(get('c'), i32(H * W)), mul(get('oy'), i32(P * W))), mul(get('ox'), i32(P)))),
      set('pw', add(get('p0'), mul(get('y'), i32(4)))),
      set('pm', `(f32.load ${get('pw')})`),
      set('x', i32(0)),
      ...scan,
      `(i32.store offset=${O.index * 4} ${add(get('pa'), mul(get('j'), i32(4)))} ${add(get('y'), get('x'))})`,
      `(f32.store offset=${O.value * 4} ${add(get('pa'), mul(get('j'), i32(4)))} (f32.load offset=${gCap > 0 ? G.value * 4 : 0} ${add(get('pc'), mul(get('j'), i32(4)))}))`,
    ]),
  ]);
  const name = g.wasm.add('(param $lo i32) (param $hi i32)', [...scatterLocals(['b']), '(local $pm f32)', '(local $pt f32)'], body);
  return { text: fn(g.k, g.batch, [`W.${name}(lo, hi);`]), partition: { extent: g.batch, grain: 1, work: g.batch * (gCap > 0 ? Math.min(gCap, 256) : pooled) * P * P }, scratchFloats: 0 };
};

/** expand: per sample, the dense value (base everywhere, base + value at the listed elements), fused ops applied. */
const expand = (g: Gen): ConvKernelCode => {
  const cap = attrs(g.op).cap;
  const L = compactLayout(cap);
  const c = g.op.inputs[0];
  const out = g.addr(g.k.output);
  const body = [
    'for (let b = lo; b < hi; b++) {',
    `  const cb = ${rec(g, c)}, n = M[cb], base = M[cb + 1];`,
    ...(g.k.ops.length > 1
      ? [
          `  const s = ${int(g.scratch)} + lo * ${int(cap)};`,
          `  M.fill(base, s, s + ${int(cap)});`,
          `  for (let t = 0; t < n; t++) M[s + I[cb + ${int(L.index)} + t]] = base + M[cb + ${int(L.value)} + t];`,
          `  for (let e = 0, o = b * ${int(cap)}; e < ${int(cap)}; e++, o++) {`,
          '    let v = M[s + e];',
          ...store(g).map((l) => `    ${l}`),
          '  }',
        ]
      : [
          `  M.fill(base, ${int(out)} + b * ${int(cap)}, ${int(out)} + (b + 1) * ${int(cap)});`,
          `  for (let t = 0; t < n; t++) M[${int(out)} + b * ${int(cap)} + I[cb + ${int(L.index)} + t]] = base + M[cb + ${int(L.value)} + t];`,
        ]),
    '}',
  ];
  return { text: fn(g.k, g.batch, body), partition: { extent: g.batch, grain: 1, work: g.batch * cap }, scratchFloats: g.k.ops.length > 1 ? g.batch * cap : 0 };
};

/** pickAt: per sample, `at`'s list with the dense value's elements there. */
const pickAt = (g: Gen): ConvKernelCode => {
  const cap = attrs(g.op).cap;
  const L = compactLayout(cap);
  const [v, at] = g.op.inputs;
  const body = [
    'for (let b = lo; b < hi; b++) {',
    `  const ab = ${rec(g, at)}, ob = ${rec(g, g.op.id)}, n = M[ab], vb = ${int(g.addr(v))} + b * ${int(cap)};`,
    '  M[ob] = n;',
    '  M[ob + 1] = 0;',
    `  for (let t = 0; t < n; t++) { const idx = I[ab + ${int(L.index)} + t]; I[ob + ${int(L.index)} + t] = idx; M[ob + ${int(L.value)} + t] = M[vb + idx]; }`,
    '}',
  ];
  return { text: fn(g.k, g.batch, body), partition: { extent: g.batch, grain: 1, work: g.batch * Math.min(cap, 256) }, scratchFloats: 0 };
};

// ---- WebAssembly helpers ----

/** Locals `r`, `row`, `col` from compact index `idx` and its channel `c`, over maps of `h` x `w`. */
const cellOf = (h: number, w: number, row: string, col: string): string[] => [
  set('r', sub(get('idx'), mul(get('c'), i32(h * w)))),
  set(row, divU(get('r'), i32(w))),
  set(col, sub(get('r'), mul(get(row), i32(w)))),
];
/** Locals `c` (channel), `r`, `row`, `col` from compact index `idx` over maps of `h` x `w`. */
const splitIndex = (h: number, w: number, row: string, col: string): string[] => [set('c', divU(get('idx'), i32(h * w))), ...cellOf(h, w, row, col)];
const minS = (a: string, b: string): string => `(select ${a} ${b} (i32.lt_s ${a} ${b}))`;

/** `for (v = from; v < to; v += step) body` (signed test, before each iteration). */
const forLoop = (label: string, v: string, from: string, to: string, step: number, body: ReadonlyArray<string>): string[] => blockLoop(label, v, from, to, step, body, true);

/** The largest row the scatters unroll (floats); longer rows loop over vectors. */
const maxUnrolled = 512;

/**
 * a[t] += s x w[t] for t < len (floats), a and w byte addresses in locals `pa` and `pw` (plus
 * constant byte offsets), s in locals `sv` (splat) and `ss`: vectors, then scalars, in t order
 * (each element gets one multiply-add). Unrolled up to `maxUnrolled` floats.
 */
const axpy = (next: () => string, len: number, aOff = 0, wOff = 0): string[] => {
  const l4 = len - (len % 4);
  const vec = (off: number) => `(v128.store offset=${aOff + off} ${get('pa')} (f32x4.add (v128.load offset=${aOff + off} ${get('pa')}) (f32x4.mul ${get('sv')} (v128.load offset=${wOff + off} ${get('pw')}))))`;
  const one = (off: number) => `(f32.store offset=${aOff + off} ${get('pa')} (f32.add (f32.load offset=${aOff + off} ${get('pa')}) (f32.mul ${get('ss')} (f32.load offset=${wOff + off} ${get('pw')}))))`;
  const tail = Array.from({ length: len - l4 }, (_, t) => one((l4 + t) * 4));
  if (len <= maxUnrolled) return [...Array.from({ length: l4 / 4 }, (_, q) => vec(q * 16)), ...tail];
  // a loop over the vectors: q is the byte offset within the row.
  const lbl = next();
  return [
    set('q', i32(0)),
    `(block $${lbl}x (loop $${lbl}l`,
    `  (br_if $${lbl}x (i32.ge_u ${get('q')} ${i32(l4 * 4)}))`,
    `  (v128.store offset=${aOff} ${add(get('pa'), get('q'))} (f32x4.add (v128.load offset=${aOff} ${add(get('pa'), get('q'))}) (f32x4.mul ${get('sv')} (v128.load offset=${wOff} ${add(get('pw'), get('q'))}))))`,
    `  ${set('q', add(get('q'), i32(16)))}`,
    `  (br $${lbl}l)))`,
    ...tail,
  ];
};

/** Zeroes `floats` floats (a multiple of 4) at the byte address in local `pa`. */
const clear = (next: () => string, floats: number): string[] =>
  forLoop(next(), 'q', i32(0), i32(floats * 4), 16, [`(v128.store ${add(get('pa'), get('q'))} (v128.const i32x4 0 0 0 0))`]);

/** Reads entry `j` of the compact record at local `pc` (layout L): its index into local `idx`, its value into `ss` and `sv`. */
const readEntry = (L: ReturnType<typeof compactLayout>): string[] => [
  set('idx', `(i32.load offset=${L.index * 4} ${add(get('pc'), mul(get('j'), i32(4)))})`),
  set('ss', `(f32.load offset=${L.value * 4} ${add(get('pc'), mul(get('j'), i32(4)))})`),
  set('sv', `(f32x4.splat ${get('ss')})`),
];

const scatterLocals = (extra: ReadonlyArray<string> = []): string[] => [
  ...['pc', 'n', 'j', 'idx', 'c', 'r', 'y', 'x', 'oy', 'ox', 'y0', 'y1', 'x0', 'x1', 'pa', 'pw', 'q', 'p0', ...extra].map((v) => `(local $${v} i32)`),
  '(local $ss f32)',
  '(local $sv v128)',
];

// ---- WebAssembly kernels ----

/** The bias a kernel's first fused op adds per output channel (hw positions each), and the fused ops after it. */
const splitBias = (g: Gen, hw: number): { bias?: number; rest: ReadonlyArray<number> } => {
  const [, first, ...others] = g.k.ops;
  const b = first !== undefined ? g.ir.ops[first] : undefined;
  return b && b.op === 'biasAdd' && b.inputs[0] === g.k.ops[0] && b.attrs.hw === hw ? { bias: b.inputs[1], rest: others } : { rest: g.k.ops.slice(1) };
};

/** Largest unrolled scatter body (floats of taps per active input; larger ones loop over ky). */
const maxUnrolledTaps = 4096;

/**
 * convScatter, stride 1 (Wt flipped along x: row (c, ky, j) holds tap kx = K - 1 - j), all in one
 * WebAssembly call per range of samples. The accumulator [H + P + K - 1][W + P + K - 1][F] is
 * channel-last and offset by K - 1 rows and columns, so each active input (c, iy, ix) adds, for each
 * ky, one contiguous run of K x F floats: acc[iy + P + K - 1 - ky][ix + P .. ix + P + K)[:] +=
 * value x Wt[c][ky][:][:] (outputs off the edges land in the margins, never read). Per sample the
 * outputs are read out as [F][outH][outW] (plus base x the sums row, plus the bias, in wasm) and
 * cleared behind (the margins only ever collect what is never read), then pooled when the next
 * kernel's max-pooling is absorbed. Other fused ops run in JavaScript afterwards, in place.
 */
const scatterRuns = (g: Gen): ConvKernelCode => {
  const { filters: F, channels: C, height: H, width: W, kernel: K, padding: P, outH, outW, cap } = attrs(g.op);
  const base = g.op.attrs.base as boolean;
  const [x, wt] = g.op.inputs;
  if (!flippedScatter(attrs(g.op) as never)) throw new Error('codegen: convScatter runs need stride 1 and at most 256 filters');
  const L = compactLayout(cap);
  const next = labels();
  const plane = outH * outW;
  const RA = H + P + K - 1;
  const CA = W + P + K - 1;
  const slot = align4(RA * CA * F);
  const { bias, rest } = splitBias(g, plane);
  const rowB = CA * F * 4;
  const F4 = F - (F % 4);
  const out = g.addr(g.k.output);
  const sums = (g.addr(wt) + C * K * K * F) * 4;
  const taps =
    K * K * F <= maxUnrolledTaps
      ? Array.from({ length: K }, (_, ky) => axpy(next, K * F, (K - 1 - ky) * rowB, ky * K * F * 4)).flat()
      : forLoop(next(), 'y0', i32(0), i32(K), 1, [
          ...axpy(next, K * F),
          set('pa', sub(get('pa'), i32(rowB))),
          set('pw', add(get('pw'), i32(K * F * 4))),
        ]);
  /** v (vector of filters 4q..4q+3, or one filter's scalar) with base x sums and the bias added. */
  const finishVec = (q: number): string[] => [
    ...(base ? [set('rv', `(f32x4.add ${get('rv')} (f32x4.mul ${get('bv')} (v128.load ${i32(sums + q * 16)})))`)] : []),
    ...(bias !== undefined ? [set('rv', `(f32x4.add ${get('rv')} (v128.load ${i32(g.addr(bias) * 4 + q * 16)}))`)] : []),
  ];
  const finishOne = (f: number): string[] => [
    ...(base ? [set('rs', `(f32.add ${get('rs')} (f32.mul ${get('bs')} (f32.load ${i32(sums + f * 4)})))`)] : []),
    ...(bias !== undefined ? [set('rs', `(f32.add ${get('rs')} (f32.load ${i32(g.addr(bias) * 4 + f * 4)}))`)] : []),
  ];
  const readOne = [
    set('pa', add(get('acc'), mul(add(mul(add(get('oy'), i32(K - 1)), i32(CA)), add(get('ox'), i32(K - 1))), i32(F * 4)))),
    set('q', add(i32(out * 4), mul(add(add(mul(get('b'), i32(F * plane)), mul(get('oy'), i32(outW))), get('ox')), i32(4)))),
    ...Array.from({ length: F4 / 4 }, (_, q) => [
      set('rv', `(v128.load offset=${q * 16} ${get('pa')})`),
      `(v128.store offset=${q * 16} ${get('pa')} (v128.const i32x4 0 0 0 0))`,
      ...finishVec(q),
      ...[0, 1, 2, 3].map((l) => `(f32.store offset=${(4 * q + l) * plane * 4} ${get('q')} (f32x4.extract_lane ${l} ${get('rv')}))`),
    ]).flat(),
    ...Array.from({ length: F - F4 }, (_, t) => [
      set('rs', `(f32.load offset=${(F4 + t) * 4} ${get('pa')})`),
      `(f32.store offset=${(F4 + t) * 4} ${get('pa')} (f32.const 0))`,
      ...finishOne(F4 + t),
      `(f32.store offset=${(F4 + t) * plane * 4} ${get('q')} ${get('rs')})`,
    ]).flat(),
  ];
  const poolName = g.pool ? poolFunction(g.pool, g.wasm) : undefined;
  const body = [
    set('acc', add(i32(g.scratch * 4), mul(get('lo'), i32(slot * 4)))),
    set('pa', get('acc')),
    ...clear(next, slot),
    ...forLoop(next(), 'b', get('lo'), get('hi'), 1, [
      set('pc', add(i32(g.addr(x) * 4), mul(get('b'), i32(L.stride * 4)))),
      set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))'),
      ...(base ? [set('bs', `(f32.load offset=4 ${get('pc')})`), set('bv', `(f32x4.splat ${get('bs')})`)] : []),
      ...forLoop(next(), 'j', i32(0), get('n'), 1, [
        ...readEntry(L),
        ...splitIndex(H, W, 'y', 'x'),
        // the ky = K - 1 row of the runs: acc[iy + P][ix + P]
        set('pa', add(get('acc'), mul(add(mul(add(get('y'), i32(P)), i32(CA)), add(get('x'), i32(P))), i32(F * 4)))),
        set('pw', add(i32(g.addr(wt) * 4), mul(get('c'), i32(K * K * F * 4)))),
        ...(K * K * F <= maxUnrolledTaps ? [] : [set('pa', add(get('pa'), i32((K - 1) * rowB)))]),
        ...taps,
      ]),
      ...forLoop(next(), 'oy', i32(0), i32(outH), 1, forLoop(next(), 'ox', i32(0), i32(outW), 1, readOne)),
      ...(poolName && g.pool
        ? [`(call $${poolName} ${add(i32(out * 4), mul(get('b'), i32(F * plane * 4)))} ${add(i32(g.addr(g.pool.kernel.output) * 4), mul(get('b'), i32(pooledPerSample(g.pool) * 4)))})`]
        : []),
    ]),
  ];
  const locals = [...scatterLocals(['b', 'acc']), '(local $rv v128)', '(local $bv v128)', '(local $rs f32)', '(local $bs f32)'];
  const name = g.wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  const after = rest.length
    ? [
        'for (let b = lo; b < hi; b++) {',
        `  for (let e = 0, o = b * ${int(F * plane)}; e < ${int(F * plane)}; e++, o++) {`,
        `    let v = M[${int(out)} + o];`,
        ...storeRest(g, rest).map((l) => `    ${l}`),
        '  }',
        '}',
      ]
    : [];
  const active = Math.min(cap, 512);
  return {
    text: fn(g.k, g.batch, [`W.${name}(lo, hi);`, ...after]),
    partition: { extent: g.batch, grain: 1, work: (g.batch * active * K * K * F) / 4 + g.batch * plane * F },
    scratchFloats: g.batch * slot,
  };
};

/**
 * convScatter: per sample (a WebAssembly call each), the channel-last accumulator [outH][outW][F]
 * cleared, then for each active input (c, iy, ix), for each output (oy, ox) whose window holds it
 * (tap ky = iy + P - oy S, kx likewise), acc[oy][ox][:] += value x Wt[c][ky][kx][:]; then
 * JavaScript reads it out as [F][outH][outW] (plus base x the sums row) through the fused ops.
 */
const scatter = (g: Gen): ConvKernelCode => {
  const { filters: F, channels: C, height: H, width: W, kernel: K, stride: S, padding: P, outH, outW, cap } = attrs(g.op);
  const base = g.op.attrs.base as boolean;
  const [x, wt] = g.op.inputs;
  const L = compactLayout(cap);
  const next = labels();
  const plane = outH * outW;
  const slot = align4(plane * F);
  /** Outputs along one axis reached by input i (local): o in [lo, hi] with lo = max(0, ceil((i + P - K + 1) / S)), hi = min(out - 1, floor((i + P) / S)). */
  const reach = (i: string, lo: string, hi: string, out: number): string[] => [
    set('p0', sub(add(get(i), i32(P + 1)), i32(K))),
    set(lo, `(select ${divU(add(get('p0'), i32(S - 1)), i32(S))} ${i32(0)} (i32.gt_s ${get('p0')} ${i32(0)}))`),
    set(hi, minS(divU(add(get(i), i32(P)), i32(S)), i32(out - 1))),
  ];
  const body = [
    set('pc', add(i32(g.addr(x) * 4), mul(get('b'), i32(L.stride * 4)))),
    set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))'),
    set('pa', get('acc')),
    ...clear(next, slot),
    ...forLoop(next(), 'j', i32(0), get('n'), 1, [
      ...readEntry(L),
      ...splitIndex(H, W, 'y', 'x'),
      ...reach('y', 'y0', 'y1', outH),
      ...reach('x', 'x0', 'x1', outW),
      ...forLoop(next(), 'oy', get('y0'), add(get('y1'), i32(1)), 1, [
        ...forLoop(next(), 'ox', get('x0'), add(get('x1'), i32(1)), 1, [
          set('pa', add(get('acc'), mul(add(mul(get('oy'), i32(outW)), get('ox')), i32(F * 4)))),
          // row (c, ky, kx) of Wt, ky = y + P - oy S, kx = x + P - ox S
          set('pw', add(i32(g.addr(wt) * 4), mul(add(mul(add(mul(get('c'), i32(K)), sub(add(get('y'), i32(P)), mul(get('oy'), i32(S)))), i32(K)), sub(add(get('x'), i32(P)), mul(get('ox'), i32(S)))), i32(F * 4)))),
          ...axpy(next, F),
        ]),
      ]),
    ]),
  ];
  const name = g.wasm.add('(param $b i32) (param $acc i32)', scatterLocals(), body);
  const acc = `${int(g.scratch)} + lo * ${int(slot)}`;
  const sums = g.addr(wt) + C * K * K * F;
  const poolName = g.pool ? poolFunction(g.pool, g.wasm) : undefined;
  const readOut = [
    `const acc = ${acc};`,
    'for (let b = lo; b < hi; b++) {',
    `  W.${name}(b, acc * 4);`,
    ...(base ? [`  const base = M[${rec(g, x)} + 1];`] : []),
    `  for (let f = 0, e = 0, o = b * ${int(F * plane)}; f < ${int(F)}; f++) {`,
    ...(base ? [`    const s = base * M[${int(sums)} + f];`] : []),
    `    for (let p = 0; p < ${int(plane)}; p++, e++, o++) {`,
    `      let v = M[acc + p * ${int(F)} + f]${base ? ' + s' : ''};`,
    ...store(g).map((l) => `      ${l}`),
    '    }',
    '  }',
    ...(poolName && g.pool ? [`  W.${poolName}((${int(g.addr(g.k.output))} + b * ${int(F * plane)}) * 4, (${int(g.addr(g.pool.kernel.output))} + b * ${int(pooledPerSample(g.pool))}) * 4);`] : []),
    '}',
  ];
  const active = Math.min(cap, 512);
  return {
    text: fn(g.k, g.batch, readOut),
    partition: { extent: g.batch, grain: 1, work: (g.batch * active * K * K * F) / (4 * S * S) + g.batch * plane * F },
    scratchFloats: g.batch * slot,
  };
};

/**
 * convGradXFrom: per sample (a WebAssembly call each), the channel-last accumulator over the
 * padded input window [rows][cols][C] cleared, then each active gradient (f, oy, ox) adds
 * g x Wg[f][ky][:][:] into acc[oy S + ky][ox S .. ox S + K)[:] (a contiguous K x C row per ky); then
 * JavaScript reads it out at input (c, iy, ix) = acc[iy + P][ix + P][c]: every element (dense
 * output, through the fused ops) or `at`'s list (compact output).
 */
const gradXFrom = (g: Gen): ConvKernelCode => {
  const geo = attrs(g.op);
  const { channels: C, height: H, width: W, kernel: K, stride: S, padding: P, outH, outW, gCap } = geo;
  const [gv, wg, at] = g.op.inputs;
  const G = compactLayout(gCap);
  const { rows, cols } = convWindow({ kernel: K, stride: S, outH, outW });
  const slot = align4(rows * cols * C);
  const next = labels();
  const rowB = cols * C * 4;
  const body = [
    set('pc', add(i32(g.addr(gv) * 4), mul(get('b'), i32(G.stride * 4)))),
    set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))'),
    set('pa', get('acc')),
    ...clear(next, slot),
    ...forLoop(next(), 'j', i32(0), get('n'), 1, [
      ...readEntry(G),
      ...splitIndex(outH, outW, 'oy', 'ox'),
      set('p0', add(get('acc'), mul(add(mul(mul(get('oy'), i32(S)), i32(cols)), mul(get('ox'), i32(S))), i32(C * 4)))),
      set('pw', add(i32(g.addr(wg) * 4), mul(get('c'), i32(K * K * C * 4)))),
      ...forLoop(next(), 'y', i32(0), i32(K), 1, [
        set('pa', add(get('p0'), mul(get('y'), i32(rowB)))),
        ...axpy(next, K * C),
        set('pw', add(get('pw'), i32(K * C * 4))),
      ]),
    ]),
  ];
  const name = g.wasm.add('(param $b i32) (param $acc i32)', scatterLocals(), body);
  const inside = (iy: string, ix: string) => [...(H + P > rows ? [`${iy} + ${int(P)} < ${int(rows)}`] : []), ...(W + P > cols ? [`${ix} + ${int(P)} < ${int(cols)}`] : [])];
  const read = (c: string, iy: string, ix: string) => {
    const cond = inside(iy, ix);
    const value = `M[acc + ((${iy} + ${int(P)}) * ${int(cols)} + ${ix} + ${int(P)}) * ${int(C)} + ${c}]`;
    return cond.length ? `(${cond.join(' && ')} ? ${value} : 0)` : value;
  };
  let readOut: string[];
  if (at !== undefined) {
    const A = compactLayout(geo.cap);
    readOut = [
      `  const ab = ${rec(g, at)}, ob = ${rec(g, g.op.id)}, m = M[ab];`,
      '  M[ob] = m;',
      '  M[ob + 1] = 0;',
      '  for (let t = 0; t < m; t++) {',
      `    const idx = I[ab + ${int(A.index)} + t];`,
      ...unflatten('idx', H, W, ['c', 'iy', 'ix']).map((l) => `    ${l}`),
      `    I[ob + ${int(A.index)} + t] = idx;`,
      `    M[ob + ${int(A.value)} + t] = ${read('c', 'iy', 'ix')};`,
      '  }',
    ];
  } else {
    readOut = [
      `  for (let c = 0, e = 0, o = b * ${int(C * H * W)}; c < ${int(C)}; c++) for (let iy = 0; iy < ${int(H)}; iy++) for (let ix = 0; ix < ${int(W)}; ix++, e++, o++) {`,
      `    let v = ${read('c', 'iy', 'ix')};`,
      ...store(g).map((l) => `    ${l}`),
      '  }',
    ];
  }
  const text = fn(g.k, g.batch, [`const acc = ${int(g.scratch)} + lo * ${int(slot)};`, 'for (let b = lo; b < hi; b++) {', `  W.${name}(b, acc * 4);`, ...readOut, '}']);
  return {
    text,
    partition: { extent: g.batch, grain: 1, work: (g.batch * Math.min(gCap, 512) * K * K * C) / 4 + g.batch * slot },
    scratchFloats: g.batch * slot,
  };
};

/**
 * convGradWFrom: by filters. The call's filters' rows [f][ky][kx][c] (in the scratch area) are
 * cleared; for each sample, each active gradient (f, oy, ox) of the call's filters adds
 * g x xe[oy S + ky][ox S .. ox S + K)[:] into row (f, ky) (a contiguous K x C run per ky); then
 * JavaScript writes the rows as [f][c][ky][kx] through the fused ops (momentum).
 */
const gradWFrom = (g: Gen): ConvKernelCode => {
  const { filters: F, channels: C, kernel: K, stride: S, outH, outW, gCap } = attrs(g.op);
  const [gv, xe] = g.op.inputs;
  const G = compactLayout(gCap);
  const xShape = g.ir.ops[xe].shape!;
  // channelLast(x) is [rows, cols, C]; x itself (one channel, no padding) is [1, H, W].
  const xCols = g.ir.ops[xe].op === 'channelLast' ? xShape[1] : xShape[2];
  const xSample = size(xShape);
  const KKC = K * K * C;
  const next = labels();
  const rowsB = g.scratch * 4;
  const body = [
    set('pa', add(i32(rowsB), mul(get('lo'), i32(KKC * 4)))),
    ...forLoop(next(), 'q', i32(0), mul(sub(get('hi'), get('lo')), i32(KKC * 4)), 4, [`(f32.store ${add(get('pa'), get('q'))} (f32.const 0))`]),
    ...forLoop(next(), 'b', i32(0), i32(g.batch), 1, [
      set('pc', add(i32(g.addr(gv) * 4), mul(get('b'), i32(G.stride * 4)))),
      set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))'),
      set('p0', add(i32(g.addr(xe) * 4), mul(get('b'), i32(xSample * 4)))),
      // Entries are in index order, so in filter order: skip those before the call's filters, stop after them.
      ...forLoop('LJ', 'j', i32(0), get('n'), 1, [
        ...readEntry(G),
        set('c', divU(get('idx'), i32(outH * outW))),
        `(br_if $LJx (i32.ge_u ${get('c')} ${get('hi')}))`,
        `(if (i32.ge_u ${get('c')} ${get('lo')}) (then`,
        ...cellOf(outH, outW, 'oy', 'ox'),
        set('pw', add(get('p0'), mul(add(mul(mul(get('oy'), i32(S)), i32(xCols)), mul(get('ox'), i32(S))), i32(C * 4)))),
        set('y0', add(i32(rowsB), mul(get('c'), i32(KKC * 4)))),
        ...forLoop(next(), 'y', i32(0), i32(K), 1, [
          set('pa', add(get('y0'), mul(get('y'), i32(K * C * 4)))),
          ...axpy(next, K * C),
          set('pw', add(get('pw'), i32(xCols * C * 4))),
        ]),
        '))',
      ]),
    ]),
  ];
  const name = g.wasm.add('(param $lo i32) (param $hi i32)', scatterLocals(['b']), body);
  const out = [
    `W.${name}(lo, hi);`,
    `for (let f = lo; f < hi; f++) for (let c = 0; c < ${int(C)}; c++) for (let t = 0; t < ${int(K * K)}; t++) {`,
    `  const o = (f * ${int(C)} + c) * ${int(K * K)} + t;`,
    `  let v = M[${int(g.scratch)} + f * ${int(KKC)} + t * ${int(C)} + c];`,
    ...store(g).map((l) => `  ${l}`),
    '}',
  ];
  return {
    text: fn(g.k, F, out),
    partition: { extent: F, grain: 1, work: (g.batch * Math.min(gCap, 512) * KKC) / 4 + F * KKC },
    scratchFloats: F * KKC,
  };
};
