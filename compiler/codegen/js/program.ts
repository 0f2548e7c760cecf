/**
 * Code generator 2: the CPU backend's program. Every kernel of a schedule becomes a specialised
 * JavaScript function over one Float32Array `M` (a view of the model's WebAssembly memory), with
 * every size and address baked in as a number; matrix products of dense layers run as WebAssembly
 * SIMD functions (`wat.ts`) and their fused elementwise ops are applied as they are copied out of
 * a scratch area. The output is source text (and a WebAssembly text module), compiled once per
 * batch size; it contains only numbers and identifiers made here, never text from a model file.
 *
 * Kernels that can be shared by threads take a range of their partition axis, `kN(M, lo, hi)`
 * (see `Partition`; called as `kN(M)` they cover everything), so the cpu backend's worker threads
 * can each run a slice of the same kernel over one shared memory.
 */
import { floatsOf } from '../../backend/passes/plan-buffers.ts';
import type { Kernel, Schedule } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { size } from '../../ops/prim/helpers.ts';
import { channelOf, elementwiseExpr, groupOf, intLit as int, invStd, kwtaKey, kwtaWins, lit, type Reader } from '../expr.ts';
import { jsReader } from './reader.ts';
import { convKernel } from './conv.ts';
import { sparseKernel, type WasmFunctions } from './sparse.ts';
import { updateKernel } from './update.ts';
import { matmulModule, type MatmulSpec } from './wat.ts';

/** Addresses (in floats, within `M`) the backend chose for every materialised value. */
export type AddressOf = (value: number) => number;

/** A generated program. */
export interface JsProgram {
  /** `function (M, W, T) { ... return [k0, k1, ...]; }`: kernels over memory view M, wasm exports W, scratch offset T. */
  readonly source: string;
  /** WebAssembly text of the program's matrix products (exports f0, f1, ...), or undefined. */
  readonly wat?: string;
  /** Kernel function names, in order. */
  readonly kernels: ReadonlyArray<string>;
  /** Floats of scratch space the products need (at address `scratch`). */
  readonly scratchFloats: number;
  /** Per kernel, how it splits across threads, or undefined when it runs whole (its function then takes only M). */
  readonly partitions: ReadonlyArray<Partition | undefined>;
}

/**
 * How a kernel splits across threads. Its function is `kN(M, lo = 0, hi = extent)`: over a
 * sub-range [lo, hi) of its axis it computes exactly the outputs of those units, each by the same
 * operations as a call over everything (a sum is never split between threads), so a program whose
 * kernels are split anyhow gives results bit-identical to one run whole. Units are output
 * elements (across samples for batched outputs; also reductions over the batch and optimizer
 * updates), rows of the products (samples for the forward and input-gradient products, units for
 * the weight gradient), or samples (kwtaThreshold).
 */
export interface Partition {
  /** Units along the axis. */
  readonly extent: number;
  /** Split points should be multiples of this (4: the products' row blocks; 16: 64 bytes of floats). */
  readonly grain: number;
  /** Rough cost of the whole kernel in multiply-adds: the runtime splits only kernels with enough work to pay for a synchronisation. */
  readonly work: number;
}

/**
 * How the kernels of each root op split. A kernel whose values come from `rootValue` (one output
 * element at a time) splits by its frame, over output elements, costing `work(op, batch)` per
 * output element (1 when not given). A kind whose output elements depend on each other's order
 * says `whole: true` and runs on one thread. A new kernel kind with its own body (like
 * kwtaThreshold) declares its Partition where it builds that body.
 */
interface SplitRule {
  readonly whole?: true;
  readonly work?: (op: Op, batch: number) => number;
}
const perChannelOverBatch: SplitRule = { work: (op, batch) => batch * (op.attrs.hw as number) };
const splitRules: Readonly<Partial<Record<string, SplitRule>>> = {
  conv: { work: (op) => (op.attrs.channels as number) * (op.attrs.kernel as number) ** 2 },
  convGradX: { work: (op) => (op.attrs.filters as number) * Math.ceil((op.attrs.kernel as number) / (op.attrs.stride as number)) ** 2 },
  convGradW: { work: (op, batch) => batch * (op.attrs.outH as number) * (op.attrs.outW as number) },
  biasGrad: perChannelOverBatch,
  dutyCycle: perChannelOverBatch,
  batchMean: perChannelOverBatch,
  batchVar: perChannelOverBatch,
  normalizeGradScale: perChannelOverBatch,
  maxPool: { work: (op) => (op.attrs.size as number) ** 2 },
  maxPoolGrad: { work: (op) => (op.attrs.size as number) ** 2 },
  kwtaApply: { work: (op) => (op.attrs.breakTies ? (op.attrs.members as number) : 1) },
  kwtaGrad: { work: (op) => (op.attrs.breakTies ? (op.attrs.members as number) : 1) },
  xentGrad: { work: (op) => 3 * (op.attrs.classes as number) },
  xentStats: { work: (op) => 3 * (op.attrs.classes as number) },
};

const matmulOps = new Set(['linear', 'linearGradX', 'linearGradW']);

/** Generates the program of a schedule for its batch. `scratch` is the address of a free area of `scratchFloats` floats. */
export const generateJs = (s: Schedule, addressOf: AddressOf, scratch: number): JsProgram => {
  const ir = s.ir;
  const batch = s.plan!.batch;
  const specs: MatmulSpec[] = [];
  let scratchFloats = 0;
  const extra: string[] = [];
  const wasm: WasmFunctions = {
    add: (params, locals, body) => {
      const name = `s${extra.length}`;
      extra.push([`  (func $${name} (export "${name}") ${params}`, ...locals.map((l) => `    ${l}`), ...body.map((l) => `    ${l}`), '  )'].join('\n'));
      return name;
    },
  };
  const generated = s.kernels.map((k) => {
    const root = ir.ops[k.ops[0]];
    const sparse = sparseKernel(s, k, addressOf, scratch, wasm) ?? updateKernel(ir, k, addressOf, wasm);
    if (sparse) {
      scratchFloats = Math.max(scratchFloats, sparse.scratchFloats);
      return sparse;
    }
    const conv = convKernel(s, k, addressOf, scratch, wasm);
    if (conv) {
      scratchFloats = Math.max(scratchFloats, conv.scratchFloats);
      return conv;
    }
    if (matmulOps.has(root.op)) {
      const needScratch = k.ops.length > 1;
      const target = needScratch ? scratch : addressOf(k.output);
      if (needScratch) scratchFloats = Math.max(scratchFloats, floatsOf(ir, root.id, batch));
      specs.push(matmulSpec(root, batch, addressOf, target));
      return kernelFunction(ir, k, batch, addressOf, specs.length - 1, needScratch ? scratch : undefined);
    }
    return kernelFunction(ir, k, batch, addressOf);
  });
  const fns = generated.map((g) => g.text);
  const source = ['function (M, W) {', ...fns.map((f) => f.split('\n').map((l) => `  ${l}`).join('\n')), `  return [${s.kernels.map((k) => k.name).join(', ')}];`, '}'].join('\n');
  const partitions = generated.map((g) => g.partition);
  return { source, wat: specs.length || extra.length ? matmulModule(specs, extra) : undefined, kernels: s.kernels.map((k) => k.name), scratchFloats, partitions };
};

const matmulSpec = (op: Op, batch: number, addr: AddressOf, target: number): MatmulSpec => {
  const units = op.attrs.units as number;
  const fanIn = op.attrs.fanIn as number;
  const [p, q] = op.inputs;
  const bytes = (v: number) => addr(v) * 4;
  switch (op.op) {
    case 'linear':
      return { form: 'dotNT', m: batch, n: units, k: fanIn, a: bytes(p), b: bytes(q), c: target * 4 };
    case 'linearGradX':
      return { form: 'axpyNN', m: batch, n: fanIn, k: units, a: bytes(p), b: bytes(q), c: target * 4, aRow: units, aCol: 1 };
    default:
      return { form: 'axpyNN', m: units, n: fanIn, k: batch, a: bytes(p), b: bytes(q), c: target * 4, aRow: 1, aCol: units };
  }
};

/** Statements applying a kernel's fused ops to `v`. */
const epilogue = (ir: IR, k: Kernel, r: Reader): string[] => k.ops.slice(1).map((o) => `v = ${elementwiseExpr(ir.ops[o], 'v', r)};`);

/** A kernel's function and how it splits. */
interface KernelCode {
  readonly text: string;
  readonly partition?: Partition;
}

const kernelFunction = (ir: IR, k: Kernel, batch: number, addr: AddressOf, wasmIndex?: number, scratch?: number): KernelCode => {
  const root = ir.ops[k.ops[0]];
  const out = ir.ops[k.output];
  const r = jsReader(ir, addr, batch, out.batched);
  const perSample = size(out.shape!);
  const total = out.batched ? perSample * batch : perSample;
  const store = [...epilogue(ir, k, r), `M[${int(addr(k.output))} + o] = v;`];
  /** The frame's partition: output elements (across samples when batched). */
  const framed = (perElement: number): Partition => ({ extent: total, grain: 16, work: total * perElement });
  let partition: Partition | undefined;
  let spec: MatmulSpec | undefined;
  let custom: { body: string[]; partition: Partition } | undefined;
  if (wasmIndex !== undefined) {
    // Products split by their rows m: samples (forward, gradX) or units (gradW, whose output rows are `n` elements long).
    spec = matmulSpec(root, batch, addr, 0);
    partition = { extent: spec.m, grain: 4, work: (spec.m * spec.n * spec.k) / 4 + (scratch !== undefined ? total : 0) };
  } else if (root.op === 'kwtaThreshold') {
    custom = kwtaThreshold(ir, root, batch, addr);
    partition = custom.partition;
  } else {
    const rule = splitRules[root.op] ?? {};
    if (!rule.whole) partition = framed(rule.work ? rule.work(root, batch) : 1);
  }
  const PS = int(perSample);
  /** Every output element of a product's rows [lo, hi): samples when batched, else runs of `unit` elements (the weight gradient's rows). */
  const overRows = (body: string[], unit: number): string[] =>
    out.batched
      ? ['for (let b = lo; b < hi; b++) {', `  for (let e = 0; e < ${PS}; e++) {`, `    const o = b * ${PS} + e;`, ...body.map((l) => `    ${l}`), '  }', '}']
      : [`for (let o = lo * ${int(unit)}; o < hi * ${int(unit)}; o++) {`, ...body.map((l) => `  ${l}`), '}'];
  /** Every output element o in [lo, hi), or all of them when the kernel does not split; batched outputs also get their sample b and element e. */
  const overElements = (body: string[]): string[] => {
    if (!out.batched) return [partition ? 'for (let o = lo; o < hi; o++) {' : `for (let o = 0; o < ${int(total)}; o++) {`, ...body.map((l) => `  ${l}`), '}'];
    const inner = [`    const o = b * ${PS} + e;`, ...body.map((l) => `    ${l}`), '  }', '}'];
    if (!partition) return [`for (let b = 0; b < ${int(batch)}; b++) {`, `  for (let e = 0; e < ${PS}; e++) {`, ...inner];
    return [`for (let b = Math.floor(lo / ${PS}), e0 = lo - b * ${PS}; b * ${PS} < hi; b++, e0 = 0) {`, `  const e1 = Math.min(${PS}, hi - b * ${PS});`, '  for (let e = e0; e < e1; e++) {', ...inner];
  };
  let body: string[];
  if (spec) {
    body = [`W.f${wasmIndex}(lo, hi);`, ...(scratch !== undefined ? overRows([`let v = M[${int(scratch)} + o];`, ...store], spec.n) : [])];
  } else if (custom) {
    body = custom.body;
  } else {
    body = overElements([...rootValue(ir, root, r, batch, addr), ...store]);
  }
  const params = partition ? `M, lo = 0, hi = ${int(partition.extent)}` : 'M';
  return { text: [`function ${k.name}(${params}) {`, ...body.map((l) => `  ${l}`), '}'].join('\n'), partition };
};

/** Statements leaving the root op's value for the current output element in `let v`. */
const rootValue = (ir: IR, op: Op, r: Reader, batch: number, addr: AddressOf): string[] => {
  const a = op.attrs as Record<string, number>;
  const [i0, i1] = op.inputs;
  const sz = (v: number) => size(ir.ops[v].shape!);
  switch (op.op) {
    case 'conv': {
      const { channels: C, height: H, width: Wd, kernel: K, stride: S, padding: P, outH, outW } = a;
      return [
        `const f = Math.floor(e / ${int(outH * outW)}), oy = Math.floor(e / ${int(outW)}) % ${int(outH)}, ox = e % ${int(outW)};`,
        'let v = 0;',
        `for (let c = 0; c < ${int(C)}; c++) for (let ky = 0; ky < ${int(K)}; ky++) {`,
        `  const iy = oy * ${int(S)} + ky - ${int(P)};`,
        `  if (iy < 0 || iy >= ${int(H)}) continue;`,
        `  for (let kx = 0; kx < ${int(K)}; kx++) {`,
        `    const ix = ox * ${int(S)} + kx - ${int(P)};`,
        `    if (ix < 0 || ix >= ${int(Wd)}) continue;`,
        `    v += ${r.row(i0, `c * ${int(H * Wd)} + iy * ${int(Wd)} + ix`)} * ${r.at(i1, `f * ${int(C * K * K)} + c * ${int(K * K)} + ky * ${int(K)} + kx`)};`,
        '  }',
        '}',
      ];
    }
    case 'convGradX': {
      const { channels: C, height: H, width: Wd, kernel: K, stride: S, padding: P, outH, outW, filters: F } = a;
      return [
        `const c = Math.floor(e / ${int(H * Wd)}), y = Math.floor(e / ${int(Wd)}) % ${int(H)}, x = e % ${int(Wd)};`,
        'let v = 0;',
        `for (let ky = 0; ky < ${int(K)}; ky++) {`,
        `  const ty = y + ${int(P)} - ky;`,
        `  if (ty < 0 || ty % ${int(S)} !== 0) continue;`,
        `  const oy = ty / ${int(S)};`,
        `  if (oy >= ${int(outH)}) continue;`,
        `  for (let kx = 0; kx < ${int(K)}; kx++) {`,
        `    const tx = x + ${int(P)} - kx;`,
        `    if (tx < 0 || tx % ${int(S)} !== 0) continue;`,
        `    const ox = tx / ${int(S)};`,
        `    if (ox >= ${int(outW)}) continue;`,
        `    for (let f = 0; f < ${int(F)}; f++) v += ${r.row(i0, `f * ${int(outH * outW)} + oy * ${int(outW)} + ox`)} * ${r.at(i1, `f * ${int(C * K * K)} + c * ${int(K * K)} + ky * ${int(K)} + kx`)};`,
        '  }',
        '}',
      ];
    }
    case 'convGradW': {
      const { channels: C, height: H, width: Wd, kernel: K, stride: S, padding: P, outH, outW } = a;
      return [
        `const f = Math.floor(o / ${int(C * K * K)}), c = Math.floor(o / ${int(K * K)}) % ${int(C)}, ky = Math.floor(o / ${int(K)}) % ${int(K)}, kx = o % ${int(K)};`,
        'let v = 0;',
        `for (let b = 0; b < ${int(batch)}; b++) for (let oy = 0; oy < ${int(outH)}; oy++) {`,
        `  const iy = oy * ${int(S)} + ky - ${int(P)};`,
        `  if (iy < 0 || iy >= ${int(H)}) continue;`,
        `  const gRow = ${int(addr(i0))} + b * ${int(sz(i0))} + f * ${int(outH * outW)} + oy * ${int(outW)};`,
        `  const xRow = ${int(addr(i1))} + b * ${int(sz(i1))} + c * ${int(H * Wd)} + iy * ${int(Wd)};`,
        `  for (let ox = 0; ox < ${int(outW)}; ox++) {`,
        `    const ix = ox * ${int(S)} + kx - ${int(P)};`,
        `    if (ix >= 0 && ix < ${int(Wd)}) v += M[gRow + ox] * M[xRow + ix];`,
        '  }',
        '}',
      ];
    }
    case 'biasGrad': {
      const hw = a.hw;
      return [
        'let v = 0;',
        `for (let b = 0; b < ${int(batch)}; b++) for (let p = 0; p < ${int(hw)}; p++) v += ${r.row(i0, `o * ${int(hw)} + p`)};`,
      ];
    }
    case 'dutyCycle': {
      const hw = a.hw;
      const period = `Math.min(${int(a.period)}, ${r.scalar(op.inputs[2])})`;
      return [
        'let count = 0;',
        `for (let b = 0; b < ${int(batch)}; b++) for (let p = 0; p < ${int(hw)}; p++) if (${r.row(i0, `o * ${int(hw)} + p`)} > 0) count++;`,
        `const period = ${period};`,
        `let v = (${r.same(i1)} * (period - ${int(batch)}) + count / ${lit(hw)}) / period;`,
      ];
    }
    case 'batchMean':
    case 'batchVar':
    case 'normalizeGradScale':
      return channelSum(op, r, batch);
    case 'maxPool': {
      const { size: P, height: H, width: Wd, outH, outW } = a;
      return [
        `const c = Math.floor(e / ${int(outH * outW)}), oy = Math.floor(e / ${int(outW)}) % ${int(outH)}, ox = e % ${int(outW)};`,
        `const base = c * ${int(H * Wd)} + oy * ${int(P * Wd)} + ox * ${int(P)};`,
        `let v = ${r.row(i0, 'base')};`,
        `for (let ky = 0; ky < ${int(P)}; ky++) for (let kx = 0; kx < ${int(P)}; kx++) { const t = ${r.row(i0, `base + ky * ${int(Wd)} + kx`)}; if (t > v) v = t; }`,
      ];
    }
    case 'maxPoolGrad': {
      const { size: P, height: H, width: Wd, outH, outW } = a;
      return [
        `const c = Math.floor(e / ${int(H * Wd)}), y = Math.floor(e / ${int(Wd)}) % ${int(H)}, x = e % ${int(Wd)};`,
        `const oy = Math.floor(y / ${int(P)}), ox = Math.floor(x / ${int(P)});`,
        'let v = 0;',
        `if (oy < ${int(outH)} && ox < ${int(outW)}) {`,
        `  const base = c * ${int(H * Wd)} + oy * ${int(P * Wd)} + ox * ${int(P)};`,
        `  let best = base, bestValue = ${r.row(op.inputs[1], 'base')};`,
        `  for (let ky = 0; ky < ${int(P)}; ky++) for (let kx = 0; kx < ${int(P)}; kx++) { const j = base + ky * ${int(Wd)} + kx; const t = ${r.row(op.inputs[1], 'j')}; if (t > bestValue) { bestValue = t; best = j; } }`,
        `  if (best === e) v = ${r.row(i0, `c * ${int(outH * outW)} + oy * ${int(outW)} + ox`)};`,
        '}',
      ];
    }
    case 'kwtaApply':
    case 'kwtaGrad': {
      const x = op.op === 'kwtaApply' ? r.same(i0) : r.same(i1);
      const value = op.op === 'kwtaApply' ? x : r.same(i0);
      if (!op.attrs.breakTies) return [`let v = ${kwtaWins(op, x, r, 'e')} ? ${value} : 0;`];
      return [...tieBrokenWin(ir, op, r, x), `let v = win ? ${value} : 0;`];
    }
    case 'xentGrad':
    case 'xentStats': {
      const C = a.classes;
      const z = (c: string) => r.row(i0, c);
      const lines = [
        `let max = ${z('0')}, arg = 0;`,
        `for (let c = 1; c < ${int(C)}; c++) if (${z('c')} > max) { max = ${z('c')}; arg = c; }`,
        'let sum = 0;',
        `for (let c = 0; c < ${int(C)}; c++) sum += Math.exp(${z('c')} - max);`,
        'const lse = Math.log(sum) + max;',
        `const label = ${r.row(i1, '0')};`,
      ];
      return op.op === 'xentGrad'
        ? [...lines, `let v = (Math.exp(${z('e')} - lse) - (e === label ? 1 : 0)) / ${lit(batch)};`]
        : [...lines, `let v = e === 0 ? lse - ${z('label')} : (arg === label ? 1 : 0);`];
    }
    default:
      // elementwise root: its main input read at the same position
      return [`let v = ${r.same(op.inputs[0])};`, `v = ${elementwiseExpr(op, 'v', r)};`];
  }
};

/**
 * Batch-norm reductions, one output element per channel `o`, over the batch and the channel's hw
 * positions: batchMean sums x, batchVar (x - mean)^2 (both then / count), normalizeGradScale g x xhat.
 */
const channelSum = (op: Op, r: Reader, batch: number): string[] => {
  const hw = op.attrs.hw as number;
  const [first, second] = op.inputs;
  const at = (v: number) => r.row(v, `o * ${int(hw)} + p`);
  const loop = (term: string) => `for (let b = 0; b < ${int(batch)}; b++) for (let p = 0; p < ${int(hw)}; p++) { ${term} }`;
  switch (op.op) {
    case 'batchMean':
      return ['let v = 0;', loop(`v += ${at(first)};`), `v = v / ${lit(batch * hw)};`];
    case 'batchVar':
      return [`const m = ${r.same(second)};`, 'let v = 0;', loop(`const d = ${at(first)} - m; v += d * d;`), `v = v / ${lit(batch * hw)};`];
    default: {
      const [, , mean, variance] = op.inputs;
      return [`const m = ${r.same(mean)}, s = ${invStd(op, r, variance, 'o')};`, 'let v = 0;', loop(`v += ${at(first)} * ((${at(second)} - m) * s);`)];
    }
  }
};

/** breakTies: exactly k winners per group, lower index first among equal keys. */
const tieBrokenWin = (_ir: IR, op: Op, r: Reader, x: string): string[] => {
  const a = op.attrs as Record<string, number>;
  const [thr, dc, s] = op.op === 'kwtaApply' ? op.inputs.slice(1) : op.inputs.slice(2);
  const xi = op.op === 'kwtaApply' ? op.inputs[0] : op.inputs[1];
  const member = (j: string) => (op.attrs.local ? `${j} * ${int(a.hw)} + g` : j);
  const keyOf = (j: string) => kwtaKey(r.row(xi, member(j)), r.at(dc, channelOf(member(j), a.hw)), r.scalar(s));
  return [
    `const g = ${groupOf('e', op)};`,
    `const t = ${r.row(thr, 'g')};`,
    `const key = ${kwtaKey(x, r.at(dc, channelOf('e', a.hw)), r.scalar(s))};`,
    'let win = false;',
    'if (key > t) win = true;',
    'else if (key === t) {',
    '  let above = 0, before = 0;',
    `  const me = ${op.attrs.local ? `Math.floor(e / ${int(a.hw)})` : 'e'};`,
    `  for (let j = 0; j < ${int(a.members)}; j++) { const kj = ${keyOf('j')}; if (kj > t) above++; else if (kj === t && j < me) before++; }`,
    `  win = above + before < ${int(a.k)};`,
    '}',
    ...(op.attrs.relu ? [`if (!(${x} > 0)) win = false;`] : []),
  ];
};

/** kwtaThreshold: per sample and group, the k-th largest key, by sorting the keys in a scratch array; splits over samples. */
const kwtaThreshold = (ir: IR, op: Op, batch: number, addr: AddressOf): { body: string[]; partition: Partition } => {
  const a = op.attrs as Record<string, number>;
  const [x, dc, s] = op.inputs;
  const n = a.members;
  const xs = size(ir.ops[x].shape!);
  const member = op.attrs.local ? `j * ${int(a.hw)} + g` : 'j';
  const key = kwtaKey(`M[${int(addr(x))} + b * ${int(xs)} + ${member}]`, `M[${int(addr(dc))} + ${channelOf(member, a.hw)}]`, `M[${int(addr(s))}]`);
  const body = [
    `const keys = new Float32Array(${int(n)});`,
    `for (let b = lo; b < hi; b++) for (let g = 0; g < ${int(a.groups)}; g++) {`,
    `  for (let j = 0; j < ${int(n)}; j++) keys[j] = ${key};`,
    '  keys.sort();',
    `  M[${int(addr(op.id))} + b * ${int(a.groups)} + g] = keys[${int(n - a.k)}];`,
    '}',
  ];
  return { body, partition: { extent: batch, grain: 1, work: batch * a.groups * n * (4 + Math.log2(n)) } };
};
