/**
 * The cpu backend's kernels of sparse weights as per-unit index lists
 * (`compiler/ops/prim/sparse-weights.ts`): WebAssembly SIMD over the samples, the batch baked in.
 *
 * - `transposeBatch(x)`: x `[B, F]` to xT `[F, S]` (S = B rounded up to 4, the extra columns 0),
 *   by rows of xT, split across threads.
 * - `linearIdx(x, W, idx, xT)`: per unit u (units split across threads), per block of up to 64
 *   samples, 16 SIMD accumulators hold the unit's outputs for the block's samples; for each kept
 *   input j = idx[u, t] in list order, acc += W[u, j] x xT[j, block]. Then the fused bias and ReLU
 *   in SIMD and the lanes stored at y[b, u]; other fused ops in JavaScript from the scratch area.
 * - `linearIdxGradW(g, x, idx, xT)`: per unit (split across threads) its row of the gradient is
 *   zeroed, the unit's column of g for a block of samples is loaded into registers, and for each
 *   kept input j the block's dot product of g[:, u] and xT[j, :] (4 partial SIMD sums, added in a
 *   fixed order) is added to row[j]; the fused momentum (and its mask) then in one SIMD pass over
 *   the row, other fused ops in JavaScript from the scratch area.
 * - `linearIdxGradX(g, W, idx)`: runs whole (it scatters into the inputs): a transposed gradient
 *   gxT `[F, S]` in the scratch area is zeroed, then for each unit in order, each block of samples
 *   (g's column in registers) and each kept input j, gxT[j, block] += W[u, j] x g[block, u]; then
 *   gxT is written back as gx `[B, F]` through the fused ops, in JavaScript.
 *
 * Each output element is computed by the same operations whatever the split, so results are
 * bit-identical on any number of threads.
 */
import type { Kernel } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { batchStride } from '../../ops/prim/sparse-weights.ts';
import { elementwiseExpr, intLit as int } from '../expr.ts';
import { jsReader } from './reader.ts';
import type { AddressOf } from './program.ts';
import { fusedMomentum, type SparseKernelCode, type WasmFunctions } from './sparse.ts';
import { i32, get, set, add, mul, forLoop } from './wat-text.ts';

/** The primitives whose kernels this module generates. */
export const sparseWeightOps: ReadonlySet<string> = new Set(['transposeBatch', 'linearIdx', 'linearIdxGradW', 'linearIdxGradX']);

const zero = '(v128.const i32x4 0 0 0 0)';
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Vectors (4 samples) per block of samples held in registers. */
const BLOCK = 16;

/**
 * The batch's blocks of samples: `full` blocks of 64 (a loop over the byte offset `c` of the block
 * in a row of xT, step 256), then a last block of `restVectors` vectors whose last vector has
 * `lastLanes` samples.
 */
const blocksOf = (batch: number) => {
  const full = Math.floor(batch / (4 * BLOCK));
  const rest = batch - full * 4 * BLOCK;
  const restVectors = Math.ceil(rest / 4);
  return { full, restVectors, lastLanes: rest - 4 * (restVectors - 1) };
};

/**
 * Code for the batch's blocks: `body(nv, lanes, tag)` for a block of nv vectors where vector i has
 * lanes(i) samples, with local `c` the byte offset of the block in a row of xT (its first sample
 * is c / 16 x 4 = c / 4).
 */
const overBlocks = (batch: number, body: (nv: number, lanes: (i: number) => number, tag: string) => string[]): string[] => {
  const { full, restVectors, lastLanes } = blocksOf(batch);
  return [
    ...(full > 0 ? forLoop('c', i32(0), i32(full * BLOCK * 16), BLOCK * 16, body(BLOCK, () => 4, 'f'), 'blk') : []),
    ...(restVectors > 0 ? [set('c', i32(full * BLOCK * 16)), ...body(restVectors, (i) => (i === restVectors - 1 ? lastLanes : 4), 'r')] : []),
  ];
};

/** Loads g[sample, u] for the block's samples into registers G0.. (lanes past the batch 0); `gb` = address of g[c / 4, u] in bytes. */
const loadColumn = (nv: number, lanes: (i: number) => number, U: number): string[] =>
  range(nv).flatMap((i) => [
    set(`a${i}`, lanes(i) === 4 ? `(f32x4.splat (f32.load offset=${4 * i * U * 4} ${get('gb')}))` : zero),
    ...range(lanes(i)).filter((l) => lanes(i) < 4 || l > 0).map((l) => set(`a${i}`, `(f32x4.replace_lane ${l} ${get(`a${i}`)} (f32.load offset=${(4 * i + l) * U * 4} ${get('gb')}))`)),
  ]);

/** Locals of the generated functions. */
const locals = [
  ...['u', 't', 'j4', 'pw', 'pi', 'px', 'py', 'c', 'row', 'gb', 'q', 'j', 'pb', 'pk', 'po'].map((v) => `(local $${v} i32)`),
  ...range(BLOCK).map((i) => `(local $a${i} v128) (local $x${i} v128)`),
  ...['wv', 's0', 's1', 's2', 's3', 'bv', 'mu', 'wd'].map((v) => `(local $${v} v128)`),
  ...['s', 'm', 'd'].map((v) => `(local $${v} f32)`),
];

const fn = (k: Kernel, extent: number | undefined, body: ReadonlyArray<string>): string =>
  [`function ${k.name}(M${extent !== undefined ? `, lo = 0, hi = ${int(extent)}` : ''}) {`, ...body.map((l) => `  ${l}`), '}'].join('\n');

/** The kernel of `k` when its root is one of `sparseWeightOps`. */
export const sparseWeightKernel = (ir: IR, k: Kernel, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const root = ir.ops[k.ops[0]];
  switch (root.op) {
    case 'transposeBatch':
      if (k.ops.length > 1) throw new Error('codegen: transposeBatch cannot take fused ops');
      return transposeBatch(k, root, batch, addr, wasm);
    case 'linearIdx':
      return forward(ir, k, root, batch, addr, scratch, wasm);
    case 'linearIdxGradW':
      return gradW(ir, k, root, batch, addr, scratch, wasm);
    default:
      return gradX(ir, k, root, batch, addr, scratch, wasm);
  }
};

/** transposeBatch: rows j of xT in [lo, hi), 4 samples per vector (a load per sample). */
const transposeBatch = (k: Kernel, op: Op, batch: number, addr: AddressOf, wasm: WasmFunctions): SparseKernelCode => {
  const F = op.attrs.fanIn as number;
  const S = batchStride(batch);
  const Xb = addr(op.inputs[0]) * 4;
  const Tb = addr(op.id) * 4;
  const body = forLoop('j', get('lo'), get('hi'), 1, [
    set('px', add(i32(Xb), `(i32.shl ${get('j')} (i32.const 2))`)),
    set('py', add(i32(Tb), mul(get('j'), i32(S * 4)))),
    ...range(S / 4).flatMap((v) => {
      const lanes = Math.min(4, batch - 4 * v);
      const ld = (l: number) => `(f32.load offset=${(4 * v + l) * F * 4} ${get('px')})`;
      let e = lanes === 4 ? `(f32x4.splat ${ld(0)})` : zero;
      for (let l = lanes === 4 ? 1 : 0; l < lanes; l++) e = `(f32x4.replace_lane ${l} ${e} ${ld(l)})`;
      return [`(v128.store offset=${v * 16} ${get('py')} ${e})`];
    }),
  ], 'j');
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  return { text: fn(k, F, [`W.${name}(lo, hi);`]), partition: { extent: F, grain: 4, work: F * S }, scratchFloats: 0 };
};

/** Statements applying the kernel's fused ops (from its second op) to `v` and storing it at `o`. */
const store = (ir: IR, k: Kernel, addr: AddressOf, batch: number): string[] => {
  const r = jsReader(ir, addr, batch, ir.ops[k.output].batched);
  return [...k.ops.slice(1).map((o) => `v = ${elementwiseExpr(ir.ops[o], 'v', r)};`), `M[${int(addr(k.output))} + o] = v;`];
};

/** linearIdx (see the module doc). */
const forward = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const { units: U, fanIn: F, kept: K } = op.attrs as Record<string, number>;
  const S = batchStride(batch);
  const [, w, idx, xT] = op.inputs;
  if (xT === undefined) throw new Error('codegen: linearIdx needs its transposed input on the cpu backend');
  const fusedOps = k.ops.slice(1).map((o) => ir.ops[o]);
  const inWasm = fusedOps.every((f) => f.op === 'relu' || (f.op === 'biasAdd' && f.attrs.hw === 1 && !ir.ops[f.inputs[1]].batched));
  const target = inWasm ? addr(k.output) : scratch;
  const finishOps = inWasm ? fusedOps : [];
  const block = (nv: number, lanes: (i: number) => number, tag: string): string[] => [
    ...range(nv).map((i) => set(`a${i}`, zero)),
    ...forLoop('t', i32(0), i32(K * 4), 4, [
      set('j4', `(i32.shl (i32.load ${add(get('pi'), get('t'))}) (i32.const 2))`),
      set('wv', `(f32x4.splat (f32.load ${add(get('pw'), get('j4'))}))`),
      set('px', add(add(i32(addr(xT) * 4), mul(get('j4'), i32(S))), get('c'))),
      ...range(nv).map((i) => set(`a${i}`, `(f32x4.add ${get(`a${i}`)} (f32x4.mul ${get('wv')} (v128.load offset=${i * 16} ${get('px')})))`)),
    ], `${tag}t`),
    ...range(nv).flatMap((i) =>
      finishOps.map((f) => set(`a${i}`, f.op === 'relu' ? `(f32x4.pmax ${zero} ${get(`a${i}`)})` : `(f32x4.add ${get(`a${i}`)} ${get('bv')})`)),
    ),
    // sample c / 4 + 4 i + l at y[sample, u]
    set('py', add(`(i32.shl ${get('u')} (i32.const 2))`, mul(get('c'), i32(U)))),
    ...range(nv).flatMap((i) => range(lanes(i)).map((l) => `(f32.store offset=${target * 4 + (4 * i + l) * U * 4} ${get('py')} (f32x4.extract_lane ${l} ${get(`a${i}`)}))`)),
  ];
  const bias = finishOps.find((f) => f.op === 'biasAdd');
  const body = forLoop('u', get('lo'), get('hi'), 1, [
    set('pw', add(i32(addr(w) * 4), mul(get('u'), i32(F * 4)))),
    set('pi', add(i32(addr(idx) * 4), mul(get('u'), i32(K * 4)))),
    ...(bias ? [set('bv', `(f32x4.splat (f32.load ${add(i32(addr(bias.inputs[1]) * 4), `(i32.shl ${get('u')} (i32.const 2))`)}))`)] : []),
    ...overBlocks(batch, block),
  ], 'u');
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  const copy = inWasm
    ? []
    : [`for (let b = 0; b < ${int(batch)}; b++) {`, '  for (let e = lo; e < hi; e++) {', `    const o = b * ${int(U)} + e;`, `    let v = M[${int(scratch)} + o];`, ...store(ir, k, addr, batch).map((l) => `    ${l}`), '  }', '}'];
  return {
    text: fn(k, U, [`W.${name}(lo, hi);`, ...copy]),
    partition: { extent: U, grain: 1, work: U * K * batch },
    scratchFloats: inWasm ? 0 : batch * U,
  };
};

/** linearIdxGradW (see the module doc). */
const gradW = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const { units: U, fanIn: F, kept: K } = op.attrs as Record<string, number>;
  const S = batchStride(batch);
  const [g, , idx, xT] = op.inputs;
  if (xT === undefined) throw new Error('codegen: linearIdxGradW needs its transposed input on the cpu backend');
  const fused = k.ops.length > 1;
  // The momentum (and a sparse weight's mask of it) alone fused: applied in SIMD to each finished row, from its scratch slot; other fused ops in JavaScript.
  const fm = fusedMomentum(k.ops.slice(1).map((o) => ir.ops[o]));
  const target = fused ? scratch : addr(k.output);
  const F4 = F - (F % 4);
  const rowOf = (v: number) => add(i32(addr(v) * 4), mul(get('u'), i32(F * 4)));
  const epilogue = (vec: boolean, q: string): string => {
    const [t, ld] = vec ? ['f32x4', 'v128.load'] : ['f32', 'f32.load'];
    const [mu, wd] = vec ? [get('mu'), get('wd')] : [get('m'), get('d')];
    const next = `(${t}.add (${t}.add (${t}.mul ${mu} (${ld} ${add(get('pb'), q)})) (${ld} ${add(get('row'), q)})) (${t}.mul ${wd} (${ld} ${add(get('pw'), q)})))`;
    return `(${vec ? 'v128' : 'f32'}.store ${add(get('po'), q)} ${fm?.mask !== undefined ? `(${t}.mul ${next} (${ld} ${add(get('pk'), q)}))` : next})`;
  };
  const finish = fm
    ? [
        set('pb', rowOf(fm.momentum.inputs[1])),
        set('pw', rowOf(fm.momentum.inputs[2])),
        set('po', rowOf(k.output)),
        ...(fm.mask !== undefined ? [set('pk', rowOf(fm.mask))] : []),
        ...forLoop('q', i32(0), i32(F4 * 4), 16, [epilogue(true, get('q'))], 'm4'),
        ...forLoop('q', i32(F4 * 4), i32(F * 4), 4, [epilogue(false, get('q'))], 'm1'),
      ]
    : [];
  const start = fm
    ? [set('m', `(f32.load ${i32(addr(fm.momentum.inputs[3]) * 4)})`), set('d', `(f32.load ${i32(addr(fm.momentum.inputs[4]) * 4)})`), set('mu', `(f32x4.splat ${get('m')})`), set('wd', `(f32x4.splat ${get('d')})`)]
    : [];
  const block = (nv: number, lanes: (i: number) => number, tag: string): string[] => {
    const parts = Math.min(4, nv);
    return [
      set('gb', add(add(i32(addr(g) * 4), `(i32.shl ${get('u')} (i32.const 2))`), mul(get('c'), i32(U)))),
      ...loadColumn(nv, lanes, U),
      ...forLoop('t', i32(0), i32(K * 4), 4, [
        set('j4', `(i32.shl (i32.load ${add(get('pi'), get('t'))}) (i32.const 2))`),
        set('px', add(add(i32(addr(xT) * 4), mul(get('j4'), i32(S))), get('c'))),
        ...range(nv).map((i) => {
          const term = `(f32x4.mul ${get(`a${i}`)} (v128.load offset=${i * 16} ${get('px')}))`;
          return set(`s${i % 4}`, i < parts ? term : `(f32x4.add ${get(`s${i % 4}`)} ${term})`);
        }),
        ...(parts === 4 ? [set('s0', `(f32x4.add (f32x4.add ${get('s0')} ${get('s1')}) (f32x4.add ${get('s2')} ${get('s3')}))`)] : parts === 3 ? [set('s0', `(f32x4.add (f32x4.add ${get('s0')} ${get('s1')}) ${get('s2')})`)] : parts === 2 ? [set('s0', `(f32x4.add ${get('s0')} ${get('s1')})`)] : []),
        set('s', `(f32.add (f32.add (f32x4.extract_lane 0 ${get('s0')}) (f32x4.extract_lane 1 ${get('s0')})) (f32.add (f32x4.extract_lane 2 ${get('s0')}) (f32x4.extract_lane 3 ${get('s0')})))`),
        set('py', add(get('row'), get('j4'))),
        `(f32.store ${get('py')} (f32.add (f32.load ${get('py')}) ${get('s')}))`,
      ], `${tag}t`),
    ];
  };
  const body = [
    ...start,
    ...forLoop('u', get('lo'), get('hi'), 1, [
      set('row', add(i32(target * 4), mul(get('u'), i32(F * 4)))),
      ...forLoop('q', i32(0), i32(F4 * 4), 16, [`(v128.store ${add(get('row'), get('q'))} ${zero})`], 'z4'),
      ...forLoop('q', i32(F4 * 4), i32(F * 4), 4, [`(f32.store ${add(get('row'), get('q'))} (f32.const 0))`], 'z1'),
      set('pi', add(i32(addr(idx) * 4), mul(get('u'), i32(K * 4)))),
      ...overBlocks(batch, block),
      ...finish,
    ], 'u'),
  ];
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  const copy = fused && !fm ? [`for (let o = lo * ${int(F)}; o < hi * ${int(F)}; o++) {`, `  let v = M[${int(scratch)} + o];`, ...store(ir, k, addr, batch).map((l) => `  ${l}`), '}'] : [];
  return {
    text: fn(k, U, [`W.${name}(lo, hi);`, ...copy]),
    partition: { extent: U, grain: 1, work: U * K * batch + U * F },
    scratchFloats: fused ? U * F : 0,
  };
};

/** linearIdxGradX (see the module doc): one thread. */
const gradX = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const { units: U, fanIn: F, kept: K } = op.attrs as Record<string, number>;
  const S = batchStride(batch);
  const [g, w, idx] = op.inputs;
  const block = (nv: number, lanes: (i: number) => number, tag: string): string[] => [
    set('gb', add(add(i32(addr(g) * 4), `(i32.shl ${get('u')} (i32.const 2))`), mul(get('c'), i32(U)))),
    ...loadColumn(nv, lanes, U),
    ...forLoop('t', i32(0), i32(K * 4), 4, [
      set('j4', `(i32.shl (i32.load ${add(get('pi'), get('t'))}) (i32.const 2))`),
      set('wv', `(f32x4.splat (f32.load ${add(get('pw'), get('j4'))}))`),
      set('px', add(add(i32(scratch * 4), mul(get('j4'), i32(S))), get('c'))),
      ...range(nv).map((i) => `(v128.store offset=${i * 16} ${get('px')} (f32x4.add (v128.load offset=${i * 16} ${get('px')}) (f32x4.mul ${get('wv')} ${get(`a${i}`)})))`),
    ], `${tag}t`),
  ];
  const body = [
    ...forLoop('q', i32(scratch * 4), i32((scratch + F * S) * 4), 16, [`(v128.store ${get('q')} ${zero})`], 'z'),
    ...forLoop('u', i32(0), i32(U), 1, [
      set('pw', add(i32(addr(w) * 4), mul(get('u'), i32(F * 4)))),
      set('pi', add(i32(addr(idx) * 4), mul(get('u'), i32(K * 4)))),
      ...overBlocks(batch, block),
    ], 'u'),
  ];
  const name = wasm.add('', locals, body);
  const copy = [`for (let b = 0; b < ${int(batch)}; b++) {`, `  for (let e = 0; e < ${int(F)}; e++) {`, `    const o = b * ${int(F)} + e;`, `    let v = M[${int(scratch)} + e * ${int(S)} + b];`, ...store(ir, k, addr, batch).map((l) => `    ${l}`), '  }', '}'];
  return { text: fn(k, undefined, [`W.${name}();`, ...copy]), partition: undefined, scratchFloats: F * S };
};
