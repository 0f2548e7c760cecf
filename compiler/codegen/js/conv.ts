/**
 * The cpu backend's convolution and max-pooling kernels: WebAssembly SIMD for the convolutions,
 * tight JavaScript loops for pooling. Like every kernel of the program, each takes a range
 * `(M, lo, hi)` of its partition axis and computes exactly the outputs of that range, every sum in
 * a fixed order, so results do not depend on how the cpu backend's threads split it.
 *
 * **Dense convolutions (stride 1)** run as one "valid" convolution core, direct (no im2col):
 * out[o][y][x] = sum over i, ky, kx of w(o, i, ky, kx) x in[i][y + ky][x + kx], register-blocked
 * as 4 output channels x 8 columns (two f32x4 vectors; then 4 x 4, then 4 x 1 scalar columns;
 * then single channels), the input channel loop innermost around a fully unrolled K x K window.
 * - `conv` is that core over x (zero-padded into a scratch slot when padding > 0), with w = W and
 *   the bias (a fused `biasAdd`) as the accumulators' start; samples split across threads.
 * - `convGradX` is the same core over the output gradient zero-padded by K - 1 - padding, with the
 *   filters flipped and transposed (w(c, f, ky, kx) = W[f][c][K-1-ky][K-1-kx]); samples split.
 * - `convGradW`: per filter block, channel and tap, a SIMD dot product of the gradient's rows with
 *   the input's shifted rows over every sample and position (ranges clipped at the padding), then
 *   one horizontal sum and the scalar remainder; filters split across threads.
 * Every output element is computed by the same sequence of float32 operations whichever block (or
 * thread) it falls in. Other fused ops (ReLU, k-winners' gradient, momentum, ...) are applied by a
 * JavaScript pass over the kernel's own outputs (in place, or from the scratch area when the
 * output buffer is also an input of the epilogue, as momentum's is).
 *
 * Stride > 1 (and padding >= kernel) has no fast path here: `convKernel` returns undefined and the
 * program's generic scalar loops compute it.
 *
 * **Pooling**: a max-pooling kernel right after a forward convolution kernel (SIMD core or
 * `convScatter`, with at most its bias fused) is done by that kernel, sample by sample while the
 * sample's output is in cache (`absorbedPool`; the pooling kernel is left empty): a WebAssembly
 * routine scanning each window row-major and keeping its first maximum, four windows at a time with
 * f32x4.pmax when they are 2 x 2, with a fused ReLU. Otherwise `maxPool` loops over channels, rows
 * and windows in JavaScript. `maxPoolGrad` zeroes each sample's input gradient and writes each
 * window's gradient at its first maximum (the same scan as the forward and the reference),
 * splitting over samples.
 *
 * Sizes and addresses are baked in as numbers; nothing from a model file reaches the text.
 */
import { externalValues } from '../../backend/passes/fuse.ts';
import type { Kernel, Schedule } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { size } from '../../ops/prim/helpers.ts';
import { elementwiseExpr, intLit as int } from '../expr.ts';
import { jsReader } from './reader.ts';
import type { AddressOf, Partition } from './program.ts';
import { sparseConvKernel, sparseConvOps } from './sparse-conv.ts';
import { add, blockLoop, get, i32, labels, mul, set } from './wat-text.ts';

/** Where the program collects WebAssembly functions (the same collector the sparse kernels use): `add` returns the export name. */
export interface WasmFunctions {
  readonly add: (params: string, locals: ReadonlyArray<string>, body: ReadonlyArray<string>) => string;
}

/** A generated kernel: its function text, how it splits, and the scratch floats it uses. */
export interface ConvKernelCode {
  readonly text: string;
  readonly partition: Partition | undefined;
  readonly scratchFloats: number;
}

/** The largest kernel side the unrolled SIMD core is generated for (its body grows with K x K). */
export const maxUnrolledKernel = 11;

/** Whether the SIMD core computes a convolution op (stride 1, padding < kernel, kernel side up to `maxUnrolledKernel`). */
const onCore = (op: Op): boolean => {
  const { kernel: K, stride: S, padding: P } = op.attrs as Record<string, number>;
  return S === 1 && P <= K - 1 && K <= maxUnrolledKernel;
};

/** The kernel of `k` when its root is a convolution or pooling op this module generates (or a convolution sparse form: `./sparse-conv.ts`), else undefined. */
export const convKernel = (s: Schedule, k: Kernel, addr: AddressOf, scratch: number, wasm: WasmFunctions): ConvKernelCode | undefined => {
  const ir = s.ir;
  const batch = s.plan!.batch;
  const root = ir.ops[k.ops[0]];
  if (sparseConvOps.has(root.op)) return sparseConvKernel(ir, k, batch, addr, scratch, wasm, absorbedPool(s, k, addr));
  switch (root.op) {
    case 'conv':
    case 'convGradX':
    case 'convGradW': {
      if (!onCore(root)) return undefined;
      if (root.op === 'conv') return convForward(ir, k, root, batch, addr, scratch, wasm, absorbedPool(s, k, addr));
      if (root.op === 'convGradX') return convGradX(ir, k, root, batch, addr, scratch, wasm);
      return convGradW(ir, k, root, batch, addr, scratch, wasm);
    }
    case 'maxPool': {
      const by = k.index > 0 ? s.kernels[k.index - 1] : undefined;
      if (by && absorbedPool(s, by, addr)) return { text: [`function ${k.name}(M) {`, `  // done sample by sample by ${by.name}`, '}'].join('\n'), partition: undefined, scratchFloats: 0 };
      return maxPool(ir, k, root, batch, addr);
    }
    case 'maxPoolGrad':
      return maxPoolGrad(ir, k, root, batch, addr);
    default:
      return undefined;
  }
};

/**
 * A max-pooling kernel (optionally with a ReLU fused after it) that the convolution kernel right
 * before it does instead, sample by sample while each sample's output is in cache: the kernel after
 * a `conv` (on the SIMD core) or `convScatter` kernel whose only fused op is its bias, when it
 * pools that kernel's output and its output overlaps nothing the convolution kernel reads.
 */
export interface AbsorbedPool {
  readonly kernel: Kernel;
  readonly op: Op;
  readonly relu: boolean;
}

/** The pooling kernel `k` absorbs (see `AbsorbedPool`), or undefined. */
export const absorbedPool = (s: Schedule, k: Kernel, addr: AddressOf): AbsorbedPool | undefined => {
  const ir = s.ir;
  const root = ir.ops[k.ops[0]];
  if (!((root.op === 'conv' && onCore(root)) || root.op === 'convScatter')) return undefined;
  const hw = (root.attrs.outH as number) * (root.attrs.outW as number);
  const { rest } = splitBias(ir, k, hw);
  if (rest.length) return undefined;
  const next = s.kernels[k.index + 1];
  const pool = next && ir.ops[next.ops[0]];
  if (!pool || pool.op !== 'maxPool' || pool.inputs[0] !== k.output) return undefined;
  const relu = next.ops.length === 2 && ir.ops[next.ops[1]].op === 'relu';
  if (next.ops.length > (relu ? 2 : 1) || externalValues(ir).has(pool.id)) return undefined;
  const batch = s.plan!.batch;
  const span = (v: number): [number, number] => [addr(v), addr(v) + size(ir.ops[v].shape!) * (ir.ops[v].batched ? batch : 1)];
  const [o0, o1] = span(next.output);
  const read = new Set(k.ops.flatMap((o) => ir.ops[o].inputs).filter((v) => !k.ops.includes(v)));
  read.add(k.output);
  for (const v of read) {
    const [a0, a1] = span(v);
    if (a0 < o1 && o0 < a1) return undefined;
  }
  return { kernel: next, op: pool, relu };
};

/**
 * A WebAssembly function `(py0, pp0)` pooling one sample: y planes [C][H][W] at byte address py0
 * into [C][outH][outW] at pp0, each window scanned row-major keeping its first maximum (`t > v`, as the maxPool
 * kernel and the reference), then the ReLU when fused. Windows of 2 x 2 four outputs at a time
 * (even and odd columns by shuffles, f32x4.pmax keeping the earlier value unless the later is
 * greater), the rest scalar.
 */
export const poolFunction = (p: AbsorbedPool, wasm: WasmFunctions): string => {
  const next = labels();
  const { size: P, channels: C, height: H, width: W, outH, outW } = p.op.attrs as Record<string, number>;
  const W4 = P === 2 ? outW - (outW % 4) : 0;
  const even = `(i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27`;
  const odd = `(i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31`;
  const vec = [
    set('pa0', `(v128.load ${add(get('prow'), mul(get('px'), i32(8)))})`),
    set('pa1', `(v128.load offset=16 ${add(get('prow'), mul(get('px'), i32(8)))})`),
    set('pb0', `(v128.load offset=${W * 4} ${add(get('prow'), mul(get('px'), i32(8)))})`),
    set('pb1', `(v128.load offset=${W * 4 + 16} ${add(get('prow'), mul(get('px'), i32(8)))})`),
    set('pv', `${even} ${get('pa0')} ${get('pa1')})`),
    set('pv', `(f32x4.pmax ${get('pv')} ${odd} ${get('pa0')} ${get('pa1')}))`),
    set('pv', `(f32x4.pmax ${get('pv')} ${even} ${get('pb0')} ${get('pb1')}))`),
    set('pv', `(f32x4.pmax ${get('pv')} ${odd} ${get('pb0')} ${get('pb1')}))`),
    ...(p.relu ? [set('pv', `(f32x4.pmax (v128.const i32x4 0 0 0 0) ${get('pv')})`)] : []),
    `(v128.store ${add(get('orow'), mul(get('px'), i32(4)))} ${get('pv')})`,
  ];
  const scan: string[] = [];
  for (let ky = 0; ky < P; ky++) {
    for (let kx = 0; kx < P; kx++) {
      if (!ky && !kx) continue;
      scan.push(set('pt', `(f32.load offset=${(ky * W + kx) * 4} ${add(get('prow'), mul(get('px'), i32(P * 4)))})`), set('ps', `(select ${get('pt')} ${get('ps')} (f32.gt ${get('pt')} ${get('ps')}))`));
    }
  }
  const one = [
    set('ps', `(f32.load ${add(get('prow'), mul(get('px'), i32(P * 4)))})`),
    ...scan,
    ...(p.relu ? [set('ps', `(select ${get('ps')} (f32.const 0) (f32.gt ${get('ps')} (f32.const 0)))`)] : []),
    `(f32.store ${add(get('orow'), mul(get('px'), i32(4)))} ${get('ps')})`,
  ];
  const body = forLoop(next(), 'pr', i32(0), i32(C * outH), 1, [
    // pooled row pr = (c, oy): input row c H + oy P
    set('prow', add(get('py0'), mul(add(mul(`(i32.div_u ${get('pr')} ${i32(outH)})`, i32(H)), mul(`(i32.rem_u ${get('pr')} ${i32(outH)})`, i32(P))), i32(W * 4)))),
    set('orow', add(get('pp0'), mul(get('pr'), i32(outW * 4)))),
    ...(W4 > 0 ? forLoop(next(), 'px', i32(0), i32(W4), 4, vec) : []),
    ...(outW > W4 ? forLoop(next(), 'px', i32(W4), i32(outW), 1, one) : []),
  ]);
  const locals = [
    ...['pr', 'px', 'prow', 'orow'].map((v) => `(local $${v} i32)`),
    ...['pa0', 'pa1', 'pb0', 'pb1', 'pv'].map((v) => `(local $${v} v128)`),
    '(local $ps f32)',
    '(local $pt f32)',
  ];
  return wasm.add('(param $py0 i32) (param $pp0 i32)', locals, body);
};

/** Pooled floats per sample of an absorbed pool's output. */
export const pooledPerSample = (p: AbsorbedPool): number => size(p.op.shape!);

// ---- JavaScript helpers ----

const fn = (k: Kernel, extent: number, body: ReadonlyArray<string>): string =>
  [`function ${k.name}(M, lo = 0, hi = ${int(extent)}) {`, ...body.map((l) => `  ${l}`), '}'].join('\n');

/** Statements applying fused ops `ops` to `v`, then storing it at output element `o`. */
const epilogue = (ir: IR, k: Kernel, ops: ReadonlyArray<number>, addr: AddressOf, batch: number): string[] => {
  const r = jsReader(ir, addr, batch, ir.ops[k.output].batched);
  return [...ops.map((o) => `v = ${elementwiseExpr(ir.ops[o], 'v', r)};`), `M[${int(addr(k.output))} + o] = v;`];
};

/**
 * The JavaScript pass applying fused ops `ops` over the samples [lo, hi) of a batched output of
 * `per` elements per sample, reading the raw values at `from` (the output itself, or scratch).
 */
const batchedPass = (ir: IR, k: Kernel, ops: ReadonlyArray<number>, addr: AddressOf, batch: number, per: number, from: number): string[] =>
  ops.length === 0 && from === addr(k.output)
    ? []
    : [
        'for (let b = lo; b < hi; b++) {',
        `  for (let e = 0, o = b * ${int(per)}; e < ${int(per)}; e++, o++) {`,
        `    let v = M[${int(from)} + o];`,
        ...epilogue(ir, k, ops, addr, batch).map((l) => `    ${l}`),
        '  }',
        '}',
      ];

// ---- WebAssembly helpers ----


/** `for (v = from; v < to; v += step) body`, unsigned test before every iteration. */
const forLoop = (label: string, v: string, from: string, to: string, step: number, body: ReadonlyArray<string>): string[] => blockLoop(label, v, from, to, step, body);

/** The four lanes of `v`, summed (l0 + l1) + (l2 + l3). */
const hsum = (v: string): string =>
  `(f32.add (f32.add (f32x4.extract_lane 0 ${v}) (f32x4.extract_lane 1 ${v})) (f32.add (f32x4.extract_lane 2 ${v}) (f32x4.extract_lane 3 ${v})))`;

/**
 * Copies a sample's planes [I][H][W] (bytes at local `src`) into the interior of the zero-bordered
 * planes [I][H + 2p][W + 2p] at local `dst` (whose border is already zero).
 */
const padCopy = (next: () => string, I: number, H: number, W: number, p: number): string[] => {
  const pw = W + 2 * p;
  const W4 = W - (W % 4);
  const rowCopy = [
    set('ps', add(get('src'), mul(get('r'), i32(W * 4)))),
    set('pd', add(get('dst'), add(mul(add(mul(get('pi'), i32(H + 2 * p)), add(get('py'), i32(p))), i32(pw * 4)), i32(p * 4)))),
    ...forLoop(next(), 'q', i32(0), i32(W4 * 4), 16, [`(v128.store ${add(get('pd'), get('q'))} (v128.load ${add(get('ps'), get('q'))}))`]),
    ...forLoop(next(), 'q', i32(W4 * 4), i32(W * 4), 4, [`(f32.store ${add(get('pd'), get('q'))} (f32.load ${add(get('ps'), get('q'))}))`]),
  ];
  // r runs over the I x H rows; pi, py are its plane and row.
  return forLoop(next(), 'r', i32(0), i32(I * H), 1, [
    set('pi', `(i32.div_u ${get('r')} ${i32(H)})`),
    set('py', `(i32.rem_u ${get('r')} ${i32(H)})`),
    ...rowCopy,
  ]);
};

/** Zeroes `floats` floats (a multiple of 4) at the byte address in local `dst`. */
const zero = (next: () => string, floats: number): string[] =>
  forLoop(next(), 'q', i32(0), i32(floats * 4), 16, [`(v128.store ${add(get('dst'), get('q'))} (v128.const i32x4 0 0 0 0))`]);

const align4 = (n: number): number => (n + 3) & ~3;

/** A "valid" stride-1 convolution of one sample, for the SIMD core. */
interface ValidConv {
  /** Input channels, output channels, kernel side. */
  readonly I: number;
  readonly O: number;
  readonly K: number;
  /** Input plane (already padded) and output plane. */
  readonly inH: number;
  readonly inW: number;
  readonly outH: number;
  readonly outW: number;
  /** Byte address of the weights; w(o, i, ky, kx) is element o wO + i wI + tap(ky, kx) (every term >= 0). */
  readonly wBase: number;
  readonly wO: number;
  readonly wI: number;
  readonly tap: (ky: number, kx: number) => number;
  /** Byte address of the per-output-channel bias the accumulators start from, if any. */
  readonly bias?: number;
}

/**
 * The core over one sample: input planes at local `pin`, output planes at local `pout` (bytes).
 * Locals used: o, y, x, i, px, pw, po; vector accumulators a{j}{v}, x{v}, w{j}; scalars s{j}, xs.
 */
const validConv = (c: ValidConv, next: () => string): string[] => {
  const { I, O, K, inH, inW, outH, outW } = c;
  const plane = outH * outW;
  const O4 = O - (O % 4);
  const W8 = outW - (outW % 8);
  const W4 = outW - (outW % 4);
  const taps: [number, number][] = [];
  for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) taps.push([ky, kx]);
  /** One block: R output channels (from local o) x V vectors of 4 columns (V = 0: one scalar column) at (y, x). */
  const block = (R: number, V: number): string[] => {
    const rows = Array.from({ length: R }, (_, j) => j);
    const vecs = Array.from({ length: V }, (_, v) => v);
    const start = (j: number) =>
      c.bias === undefined
        ? V ? '(v128.const i32x4 0 0 0 0)' : '(f32.const 0)'
        : V ? `(v128.load32_splat offset=${c.bias + j * 4} ${mul(get('o'), i32(4))})` : `(f32.load offset=${c.bias + j * 4} ${mul(get('o'), i32(4))})`;
    const init = rows.flatMap((j) => (V ? vecs.map((v) => set(`a${j}${v}`, start(j))) : [set(`s${j}`, start(j))]));
    const step = taps.flatMap(([ky, kx]) => {
      const xOff = (ky * inW + kx) * 4;
      const wOff = (j: number) => (j * c.wO + c.tap(ky, kx)) * 4;
      if (!V) {
        return [
          set('xs', `(f32.load offset=${xOff} ${get('px')})`),
          ...rows.map((j) => set(`s${j}`, `(f32.add ${get(`s${j}`)} (f32.mul (f32.load offset=${wOff(j)} ${get('pw')}) ${get('xs')}))`)),
        ];
      }
      return [
        ...vecs.map((v) => set(`x${v}`, `(v128.load offset=${xOff + 16 * v} ${get('px')})`)),
        ...rows.flatMap((j) => [
          set(`w${j}`, `(v128.load32_splat offset=${wOff(j)} ${get('pw')})`),
          ...vecs.map((v) => set(`a${j}${v}`, `(f32x4.add ${get(`a${j}${v}`)} (f32x4.mul ${get(`w${j}`)} ${get(`x${v}`)}))`)),
        ]),
      ];
    });
    const store = rows.flatMap((j) =>
      V ? vecs.map((v) => `(v128.store offset=${(j * plane) * 4 + 16 * v} ${get('po')} ${get(`a${j}${v}`)})`) : [`(f32.store offset=${j * plane * 4} ${get('po')} ${get(`s${j}`)})`],
    );
    return [
      ...init,
      set('px', add(get('pin'), mul(add(mul(get('y'), i32(inW)), get('x')), i32(4)))),
      set('pw', add(i32(c.wBase), mul(get('o'), i32(c.wO * 4)))),
      ...forLoop(next(), 'i', i32(0), i32(I), 1, [...step, set('px', add(get('px'), i32(inH * inW * 4))), set('pw', add(get('pw'), i32(c.wI * 4)))]),
      set('po', add(get('pout'), mul(add(mul(add(mul(get('o'), i32(outH)), get('y')), i32(outW)), get('x')), i32(4)))),
      ...store,
    ];
  };
  /** Every column of row y for R channels from o. */
  const columns = (R: number): string[] => [
    ...(W8 > 0 ? forLoop(next(), 'x', i32(0), i32(W8), 8, block(R, 2)) : []),
    ...(W4 > W8 ? forLoop(next(), 'x', i32(W8), i32(W4), 4, block(R, 1)) : []),
    ...(outW > W4 ? forLoop(next(), 'x', i32(W4), i32(outW), 1, block(R, 0)) : []),
  ];
  return [
    ...(O4 > 0 ? forLoop(next(), 'o', i32(0), i32(O4), 4, forLoop(next(), 'y', i32(0), i32(outH), 1, columns(4))) : []),
    ...(O > O4 ? forLoop(next(), 'o', i32(O4), i32(O), 1, forLoop(next(), 'y', i32(0), i32(outH), 1, columns(1))) : []),
  ];
};

const coreLocals = (): string[] => [
  ...['b', 'o', 'y', 'x', 'i', 'px', 'pw', 'po', 'pin', 'pout', 'src', 'dst', 'ps', 'pd', 'q', 'r', 'pi', 'py'].map((v) => `(local $${v} i32)`),
  ...[0, 1, 2, 3].flatMap((j) => [`(local $a${j}0 v128)`, `(local $a${j}1 v128)`, `(local $w${j} v128)`, `(local $s${j} f32)`]),
  '(local $x0 v128)',
  '(local $x1 v128)',
  '(local $xs f32)',
];

/**
 * A SIMD convolution kernel over samples [lo, hi): per sample, the input (padded by `pad` into the
 * scratch slot of the call's first sample when pad > 0) through the core into the output.
 */
const coreKernel = (
  k: Kernel,
  batch: number,
  wasm: WasmFunctions,
  core: Omit<ValidConv, 'inH' | 'inW'>,
  input: { readonly at: number; readonly H: number; readonly W: number; readonly pad: number },
  out: number,
  scratch: number,
  after: ReadonlyArray<string>,
  pool?: AbsorbedPool & { readonly at: number },
): ConvKernelCode => {
  const next = labels();
  const pooling = pool ? poolFunction(pool, wasm) : undefined;
  const { pad } = input;
  const inH = input.H + 2 * pad;
  const inW = input.W + 2 * pad;
  const inSample = core.I * input.H * input.W;
  const outSample = core.O * core.outH * core.outW;
  const slot = align4(core.I * inH * inW);
  const body = [
    ...(pad > 0 ? [set('dst', add(i32(scratch * 4), mul(get('lo'), i32(slot * 4)))), ...zero(next, slot)] : []),
    ...forLoop(next(), 'b', get('lo'), get('hi'), 1, [
      ...(pad > 0
        ? [set('src', add(i32(input.at * 4), mul(get('b'), i32(inSample * 4)))), ...padCopy(next, core.I, input.H, input.W, pad), set('pin', get('dst'))]
        : [set('pin', add(i32(input.at * 4), mul(get('b'), i32(inSample * 4))))]),
      set('pout', add(i32(out * 4), mul(get('b'), i32(outSample * 4)))),
      ...validConv({ ...core, inH, inW }, next),
      ...(pool && pooling ? [`(call $${pooling} ${get('pout')} ${add(i32(pool.at * 4), mul(get('b'), i32(pooledPerSample(pool) * 4)))})`] : []),
    ]),
  ];
  const name = wasm.add('(param $lo i32) (param $hi i32)', coreLocals(), body);
  const macs = core.O * core.outH * core.outW * core.I * core.K * core.K;
  return {
    text: fn(k, batch, [`W.${name}(lo, hi);`, ...after]),
    partition: { extent: batch, grain: 1, work: (batch * macs) / 4 },
    scratchFloats: pad > 0 ? batch * slot : 0,
  };
};

/** The kernel's fused ops after the root, and the bias among them the core can start from (a biasAdd right after it). */
const splitBias = (ir: IR, k: Kernel, hw: number): { bias?: number; rest: number[] } => {
  const [, first, ...others] = k.ops;
  const b = first !== undefined ? ir.ops[first] : undefined;
  if (b && b.op === 'biasAdd' && b.inputs[0] === k.ops[0] && b.attrs.hw === hw) return { bias: b.inputs[1], rest: others };
  return { rest: k.ops.slice(1) };
};

const convForward = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions, pool: AbsorbedPool | undefined): ConvKernelCode => {
  const { channels: C, height: H, width: Wd, kernel: K, padding: P, filters: F, outH, outW } = op.attrs as Record<string, number>;
  const { bias, rest } = splitBias(ir, k, outH * outW);
  const out = addr(k.output);
  const core = {
    I: C, O: F, K, outH, outW,
    wBase: addr(op.inputs[1]) * 4, wO: C * K * K, wI: K * K, tap: (ky: number, kx: number) => ky * K + kx,
    ...(bias !== undefined ? { bias: addr(bias) * 4 } : {}),
  };
  const pooled = pool ? { ...pool, at: addr(pool.kernel.output) } : undefined;
  return coreKernel(k, batch, wasm, core, { at: addr(op.inputs[0]), H, W: Wd, pad: P }, out, scratch, batchedPass(ir, k, rest, addr, batch, F * outH * outW, out), pooled);
};

const convGradX = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): ConvKernelCode => {
  const { channels: C, height: H, width: Wd, kernel: K, padding: P, filters: F, outH, outW } = op.attrs as Record<string, number>;
  const out = addr(k.output);
  const core = {
    I: F, O: C, K, outH: H, outW: Wd,
    wBase: addr(op.inputs[1]) * 4, wO: K * K, wI: C * K * K, tap: (ky: number, kx: number) => (K - 1 - ky) * K + (K - 1 - kx),
  };
  return coreKernel(k, batch, wasm, core, { at: addr(op.inputs[0]), H: outH, W: outW, pad: K - 1 - P }, out, scratch, batchedPass(ir, k, k.ops.slice(1), addr, batch, C * H * Wd, out));
};

/**
 * convGradW: dW[f][c][ky][kx] = sum over samples and positions of g[b][f][oy][ox] x[b][c][oy+ky-P][ox+kx-P],
 * per block of 4 filters (then single filters) of the call's range. Into the output, or into the
 * scratch area when fused ops follow (they read the output's buffer: momentum), then a JavaScript
 * pass over the range's rows applies them.
 */
const convGradW = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): ConvKernelCode => {
  const { channels: C, height: H, width: Wd, kernel: K, padding: P, filters: F, outH, outW } = op.attrs as Record<string, number>;
  const [g, x] = op.inputs;
  const fused = k.ops.length > 1;
  const target = fused ? scratch : addr(k.output);
  const next = labels();
  const plane = outH * outW;
  const CKK = C * K * K;
  /** Runtime ranges: rows oy in [oy0, oy1) and columns ox in [ox0, ox1) where the shifted input is inside (ox4: end of the vector part). */
  const ranges = [
    set('oy0', P > 0 ? `(select (i32.sub ${i32(P)} ${get('ky')}) ${i32(0)} (i32.gt_s (i32.sub ${i32(P)} ${get('ky')}) ${i32(0)}))` : i32(0)),
    set('oy1', P > 0 ? `(select ${i32(outH)} (i32.sub ${i32(H + P)} ${get('ky')}) (i32.lt_s ${i32(outH)} (i32.sub ${i32(H + P)} ${get('ky')})))` : i32(outH)),
  ];
  const colRanges = [
    set('ox0', P > 0 ? `(select (i32.sub ${i32(P)} ${get('kx')}) ${i32(0)} (i32.gt_s (i32.sub ${i32(P)} ${get('kx')}) ${i32(0)}))` : i32(0)),
    set('ox1', P > 0 ? `(select ${i32(outW)} (i32.sub ${i32(Wd + P)} ${get('kx')}) (i32.lt_s ${i32(outW)} (i32.sub ${i32(Wd + P)} ${get('kx')})))` : i32(outW)),
    set('ox4', add(get('ox0'), `(i32.and (i32.sub ${get('ox1')} ${get('ox0')}) ${i32(0xfffffffc)})`)),
  ];
  /** Byte address of x[b][c][oy + ky - P][kx - P] (the row the columns ox index into) and of g[b][f][oy][0]. */
  const rowPointers = [
    set('pg', add(i32(addr(g) * 4), mul(add(mul(add(mul(get('b'), i32(F)), get('f')), i32(plane)), mul(get('oy'), i32(outW))), i32(4)))),
    set('px', `(i32.sub ${add(i32(addr(x) * 4), mul(add(mul(add(mul(get('b'), i32(C)), get('c')), i32(H * Wd)), add(mul(add(get('oy'), get('ky')), i32(Wd)), get('kx'))), i32(4)))} ${i32((P * Wd + P) * 4)})`),
  ];
  const block = (R: number): string[] => {
    const rows = Array.from({ length: R }, (_, j) => j);
    const vec = [
      set('xv', `(v128.load ${add(get('px'), mul(get('ox'), i32(4)))})`),
      ...rows.map((j) => set(`a${j}`, `(f32x4.add ${get(`a${j}`)} (f32x4.mul (v128.load offset=${j * plane * 4} ${add(get('pg'), mul(get('ox'), i32(4)))}) ${get('xv')}))`)),
    ];
    const one = [
      set('xs', `(f32.load ${add(get('px'), mul(get('ox'), i32(4)))})`),
      ...rows.map((j) => set(`s${j}`, `(f32.add ${get(`s${j}`)} (f32.mul (f32.load offset=${j * plane * 4} ${add(get('pg'), mul(get('ox'), i32(4)))}) ${get('xs')}))`)),
    ];
    const overPositions = (inner: string[], from: string, to: string, step: number): string[] =>
      forLoop(next(), 'b', i32(0), i32(batch), 1, forLoop(next(), 'oy', get('oy0'), get('oy1'), 1, [...rowPointers, ...forLoop(next(), 'ox', from, to, step, inner)]));
    const tap = [
      ...colRanges,
      ...rows.map((j) => set(`a${j}`, '(v128.const i32x4 0 0 0 0)')),
      ...overPositions(vec, get('ox0'), get('ox4'), 4),
      ...rows.map((j) => set(`s${j}`, hsum(get(`a${j}`)))),
      ...overPositions(one, get('ox4'), get('ox1'), 1),
      ...rows.map((j) => `(f32.store offset=${j * CKK * 4} ${add(i32(target * 4), mul(add(add(mul(get('f'), i32(CKK)), mul(get('c'), i32(K * K))), add(mul(get('ky'), i32(K)), get('kx'))), i32(4)))} ${get(`s${j}`)})`),
    ];
    return forLoop(next(), 'c', i32(0), i32(C), 1, forLoop(next(), 'ky', i32(0), i32(K), 1, [...ranges, ...forLoop(next(), 'kx', i32(0), i32(K), 1, tap)]));
  };
  const body = [
    set('f4', add(get('lo'), `(i32.and (i32.sub ${get('hi')} ${get('lo')}) ${i32(0xfffffffc)})`)),
    ...forLoop(next(), 'f', get('lo'), get('f4'), 4, block(4)),
    ...forLoop(next(), 'f', get('f4'), get('hi'), 1, block(1)),
  ];
  const locals = [
    ...['f', 'f4', 'c', 'ky', 'kx', 'b', 'oy', 'ox', 'oy0', 'oy1', 'ox0', 'ox1', 'ox4', 'pg', 'px'].map((v) => `(local $${v} i32)`),
    ...[0, 1, 2, 3].flatMap((j) => [`(local $a${j} v128)`, `(local $s${j} f32)`]),
    '(local $xv v128)',
    '(local $xs f32)',
  ];
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  const after = fused
    ? [`for (let o = lo * ${int(CKK)}; o < hi * ${int(CKK)}; o++) {`, `  let v = M[${int(scratch)} + o];`, ...epilogue(ir, k, k.ops.slice(1), addr, batch).map((l) => `  ${l}`), '}']
    : [];
  return {
    text: fn(k, F, [`W.${name}(lo, hi);`, ...after]),
    partition: { extent: F, grain: 1, work: (batch * plane * CKK * F) / 4 },
    scratchFloats: fused ? F * CKK : 0,
  };
};

// ---- Pooling (JavaScript) ----

/** maxPool: per sample, channel and output row, each window's maximum (first element, then `>` in row-major order). */
const maxPool = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf): ConvKernelCode => {
  const { size: P, channels: C, height: H, width: Wd, outH, outW } = op.attrs as Record<string, number>;
  const x = op.inputs[0];
  const inSample = C * H * Wd;
  const per = C * outH * outW;
  const scan = [];
  for (let ky = 0; ky < P; ky++) for (let kx = 0; kx < P; kx++) if (ky || kx) scan.push(`t = M[w + ${int(ky * Wd + kx)}]; if (t > v) v = t;`);
  const body = [
    'let t;',
    'for (let b = lo; b < hi; b++) {',
    `  let o = b * ${int(per)}, e = 0;`,
    `  for (let c = 0; c < ${int(C)}; c++) for (let oy = 0; oy < ${int(outH)}; oy++) {`,
    `    let w = ${int(addr(x))} + b * ${int(inSample)} + c * ${int(H * Wd)} + oy * ${int(P * Wd)};`,
    `    for (let ox = 0; ox < ${int(outW)}; ox++, o++, e++, w += ${int(P)}) {`,
    '      let v = M[w];',
    ...scan.map((l) => `      ${l}`),
    ...epilogue(ir, k, k.ops.slice(1), addr, batch).map((l) => `      ${l}`),
    '    }',
    '  }',
    '}',
  ];
  return { text: fn(k, batch, body), partition: { extent: batch, grain: 1, work: batch * per * P * P }, scratchFloats: 0 };
};

/**
 * maxPoolGrad: per sample, the input gradient zeroed, then each window's gradient written at its
 * first maximum of x (the forward's scan); fused ops then run over the sample's elements.
 */
const maxPoolGrad = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf): ConvKernelCode => {
  const { size: P, channels: C, height: H, width: Wd, outH, outW } = op.attrs as Record<string, number>;
  const [g, x] = op.inputs;
  const inSample = C * H * Wd;
  const per = C * outH * outW;
  const out = addr(k.output);
  const scan = [];
  for (let ky = 0; ky < P; ky++) for (let kx = 0; kx < P; kx++) if (ky || kx) scan.push(`t = M[w + ${int(ky * Wd + kx)}]; if (t > v) { v = t; at = ${int(ky * Wd + kx)}; }`);
  const rest = k.ops.slice(1);
  const body = [
    'let t;',
    'for (let b = lo; b < hi; b++) {',
    `  M.fill(0, ${int(out)} + b * ${int(inSample)}, ${int(out)} + (b + 1) * ${int(inSample)});`,
    `  let o = ${int(addr(g))} + b * ${int(per)};`,
    `  for (let c = 0; c < ${int(C)}; c++) for (let oy = 0; oy < ${int(outH)}; oy++) {`,
    `    let w = ${int(addr(x))} + b * ${int(inSample)} + c * ${int(H * Wd)} + oy * ${int(P * Wd)};`,
    `    let d = ${int(out)} + b * ${int(inSample)} + c * ${int(H * Wd)} + oy * ${int(P * Wd)};`,
    `    for (let ox = 0; ox < ${int(outW)}; ox++, o++, w += ${int(P)}, d += ${int(P)}) {`,
    '      let v = M[w], at = 0;',
    ...scan.map((l) => `      ${l}`),
    '      M[d + at] = M[o];',
    '    }',
    '  }',
    '}',
    ...(rest.length ? batchedPass(ir, k, rest, addr, batch, inSample, out) : []),
  ];
  return { text: fn(k, batch, body), partition: { extent: batch, grain: 1, work: batch * inSample * 2 }, scratchFloats: 0 };
};
