/**
 * Code generator 1: every kernel of a schedule as a gpu.js kernel. A code-for-op table gives the
 * source of each root op; the fused elementwise ops after it (`ops[1..]`) come from the shared
 * `elementwiseExpr`, so their semantics are the CPU backend's. Sources are built only from
 * `source.ts`'s checked pieces (compiler identifiers, validated numbers) and pass
 * `checkKernelSource` before gpu.js sees them.
 *
 * Layout (one thread per output element, never a flat index past 2^24):
 * - a batched value is 2-D `[elementsPerSample, batch]`: `this.thread.y` is the sample,
 *   `this.thread.x` the element within it, and arguments are read `v[sample][element]`;
 * - an unbatched value of rank >= 2 is 2-D `[cols, rows]` with rows = shape[0] (a dense weight
 *   `[units, fanIn]` is read `w[unit][input]`, a conv weight `w[filter][c * K * K + ky * K + kx]`);
 * - an unbatched vector is 1-D.
 * Host arrays are passed as gpu.js `input(flat, dims)` with exactly these dims (`dims` of each
 * argument below); scalars (hyperparameters, samples seen, a boost strength) as numbers.
 *
 * gpu.js traps respected here (see shared/notes/gpujs.md and source.ts): every loop has a literal
 * bound (`forRange`) and the settings raise `loopMaxIterations`; k-winners keys are rounded with
 * `Math.fround` (`kwtaKey`), so cpu mode (f64) and the f32 modes pick the same winners; indices
 * that could leave an array are clamped before the read (webasm's SIMD body may evaluate a
 * masked-off read, and a negative index traps), and every decomposition `floor(i / d)` of an
 * in-sample index is checked to be exact in f32 (numerator + divisor < 2^24). One trap is not
 * gpu.js's: Mesa's software renderers (llvmpipe, which WebGPU reaches through Dawn on a machine
 * without a GPU) stop every loop of a thread after 65535 iterations in all, silently; loop nests
 * are unrolled (`planNest`) to stay under `LOOP_BUDGET`, and each kernel reports its count.
 *
 * Sparse forms (pass `sparseForms` with `target: 'gpujs'`): a compact value is 2-D `[compactStride(cap),
 * batch]` with cpu's record layout (header `[count, base, 0, 0]`, index slots, value slots), except
 * that indices are stored as float numbers (exact: below 2^24). Each slot is a thread: kwtaCompact's
 * slot j finds its block by a prefix sum of `kwtaBlockCounts` and its winner within it; gather
 * (sample, unit) and linearGradXAt's value slots loop over the sample's winners only (the loop
 * breaks after `count`); expand finds each element in the list by binary search. There every
 * k-winners layer's keys are computed once per call (`kwtaKeys`, the same `kwtaKey` expression the
 * other k-winners kernels evaluate, so the same float32 values), and `kwtaThreshold`'s 64
 * bisection steps, `kwtaBlockCounts` and `kwtaCompact` read them instead of evaluating an exp per
 * member each time.
 *
 * Scatters are gathers: convGradX reads the output positions each input pixel feeds, maxPoolGrad
 * lets each input element check whether it is its window's first maximum, and reductions over the
 * batch (weight and bias gradients, duty cycles) loop over the samples in one thread per result.
 */
import { opDef } from '../../ops/index.ts';
import { size } from '../../ops/prim/helpers.ts';
import { compactLayout, KWTA_BLOCK, kwtaBlocks } from '../../ops/prim/sparse.ts';
import type { Kernel, Schedule } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { channelOf, elementwiseExpr, invStd, kwtaKey, kwtaWins, type Reader } from '../expr.ts';
import { float, forRange, forRangeUnrolled, id, int, kernelSettings, kernelSource, unrolledIterations } from './source.ts';

/** gpu.js dims of a value: `[cols, rows]` (2-D) or `[length]` (1-D). */
export type Dims = readonly [number] | readonly [number, number];

/** What one kernel parameter binds to. */
export type KernelArg =
  /** An array: value `value`, passed with gpu.js dims `dims`. */
  | { readonly kind: 'array'; readonly name: string; readonly value: number; readonly dims: Dims }
  /** A number: the single element of value `value` (a `scalar` source, or a size-1 state source). */
  | { readonly kind: 'scalar'; readonly name: string; readonly value: number };

/** One schedule kernel as a gpu.js kernel. */
export interface GpujsKernel {
  readonly index: number;
  /** The schedule kernel's (compiler-made) name. */
  readonly name: string;
  /** `function (params) { ... }`, checked by `checkKernelSource`. */
  readonly source: string;
  /** Settings for `gpu.createKernel` (output dims, loop cap, precision). */
  readonly settings: ReturnType<typeof kernelSettings>;
  /** The kernel's parameters, in order. */
  readonly args: ReadonlyArray<KernelArg>;
  /** The value the kernel writes, and its dims (the layout kernels that read it index). */
  readonly output: number;
  readonly dims: Dims;
  /**
   * The dims gpu.js writes (`settings.output`): `dims`, or, for a 2-D value with a side past
   * `maxOutputSide`, the same elements as one row `[cols * rows]` (row-major, so the flat result
   * is the same array): see `GpujsKernelOptions`.
   */
  readonly outputDims: Dims;
  /** Loop iterations one thread runs in all (Mesa's software renderers stop every loop past `SOFTWARE_LOOP_LIMIT`). */
  readonly loopIterations: number;
}

/** Largest integer every float32 holds exactly: sizes and in-sample indices must stay below it. */
const F32_EXACT = 1 << 24;

/** gpu.js dims of value `v` at batch `batch`. */
export const dimsOf = (ir: IR, v: number, batch: number): Dims => {
  const op = ir.ops[v];
  const shape = op.shape!;
  const dims: Dims = op.batched ? [size(shape), batch] : shape.length >= 2 ? [size(shape.slice(1)), shape[0]] : [size(shape)];
  for (const d of dims) if (d >= F32_EXACT) throw new Error(`gpu.js codegen: %${v} has a dimension of ${d}, past 2^24`);
  return dims;
};

/** Sources passed as numbers: scalars, and size-1 state (a boost strength). */
const isNumberSource = (op: Op): boolean => op.op === 'scalar' || ((op.op === 'state' || op.op === 'param') && size(op.shape!) === 1 && !op.batched);

/** Builds one kernel: parameters are registered as the code reads them. */
class KernelBuilder {
  readonly args: KernelArg[] = [];
  /** Loop iterations planned so far (per thread). */
  iterations = 0;
  private readonly names = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  constructor(
    readonly ir: IR,
    readonly batch: number,
    /** The output value and its dims. */
    readonly out: number,
    readonly dims: Dims,
  ) {}

  /** The parameter holding value `v` as an array. */
  arr(v: number): string {
    const key = `a${v}`;
    let name = this.names.get(key);
    if (!name) {
      name = id(`v${v}`);
      this.names.set(key, name);
      this.args.push({ kind: 'array', name, value: v, dims: dimsOf(this.ir, v, this.batch) });
    }
    return name;
  }

  /** The single element of value `v`: a number parameter for a source, else element 0 of an array. */
  scalar(v: number): string {
    const op = this.ir.ops[v];
    if (size(op.shape!) !== 1 || op.batched) throw new Error(`gpu.js codegen: %${v} is read as a scalar but has ${size(op.shape!)} elements`);
    if (!isNumberSource(op)) return `${this.arr(v)}[0]`;
    const key = `s${v}`;
    let name = this.names.get(key);
    if (!name) {
      name = id(`s${v}`);
      this.names.set(key, name);
      this.args.push({ kind: 'scalar', name, value: v });
    }
    return name;
  }

  /** A fresh local name with a prefix (each declared once per kernel: gpu.js translators scope loosely). */
  local(prefix: string): string {
    const n = this.counters.get(prefix) ?? 0;
    this.counters.set(prefix, n + 1);
    return id(n === 0 ? prefix : `${prefix}${n}`);
  }

  /** A top-level loop nest (see `planNest`), counted against the kernel's loop iterations. */
  nest(loops: ReadonlyArray<readonly [string, number]>, body: ReadonlyArray<string>, budget = LOOP_BUDGET, inner = 0): string[] {
    const p = planNest(loops, body, budget, inner);
    this.iterations += p.iterations;
    return p.lines;
  }

  /** Element `index` (in-sample) of the batched value `v` in sample `sample`. */
  rowAt(v: number, sample: string, index: string): string {
    if (!this.ir.ops[v].batched) throw new Error(`gpu.js codegen: %${v} is not batched`);
    return `${this.arr(v)}[${sample}][${index}]`;
  }

  /** Element (`row`, `col`) of the unbatched 2-D value `v`. */
  at2(v: number, row: string, col: string): string {
    const d = dimsOf(this.ir, v, this.batch);
    if (this.ir.ops[v].batched || d.length !== 2) throw new Error(`gpu.js codegen: %${v} is not an unbatched 2-D value`);
    return `${this.arr(v)}[${row}][${col}]`;
  }

  /** Element `index` of the unbatched value `v` (flat; 2-D values split into row and column). */
  flat(v: number, index: string): string {
    const d = dimsOf(this.ir, v, this.batch);
    if (this.ir.ops[v].batched) throw new Error(`gpu.js codegen: %${v} is batched; read it by row`);
    if (d.length === 1) return `${this.arr(v)}[${index}]`;
    return `${this.arr(v)}[${div(index, d[0], d[0] * d[1])}][(${index}) % ${int(d[0])}]`;
  }

  /** Whether the output is batched (thread y = sample). */
  get batched(): boolean {
    return this.ir.ops[this.out].batched;
  }

  /** The reader of elementwise expressions at the current output element. */
  reader(): Reader {
    const outOp = this.ir.ops[this.out];
    const d = this.dims;
    return {
      same: (v) => {
        const op = this.ir.ops[v];
        if (op.batched !== outOp.batched || String(op.shape) !== String(outOp.shape)) {
          throw new Error(
            `gpu.js codegen: %${v} (${op.batched ? 'b,' : ''}${op.shape}) is read at the position of %${this.out} (${outOp.batched ? 'b,' : ''}${outOp.shape}), which has another layout`,
          );
        }
        return d.length === 2 ? `${this.arr(v)}[ty][tx]` : `${this.arr(v)}[tx]`;
      },
      at: (v, index) => this.flat(v, index),
      row: (v, index) => {
        if (!outOp.batched) throw new Error(`gpu.js codegen: %${v} is read by sample in the unbatched kernel of %${this.out}`);
        return this.rowAt(v, 'ty', index);
      },
      scalar: (v) => this.scalar(v),
      elem: d.length === 2 && !outOp.batched ? `(ty * ${int(d[0])} + tx)` : 'tx',
      batch: int(this.batch),
    };
  }
}

/** `Math.floor(n / d)` for an integer-valued `n` in [0, max): exact in f32 when max + d < 2^24. */
const div = (n: string, d: number, max: number): string => {
  if (max + d >= F32_EXACT) throw new Error(`gpu.js codegen: index ${max} / ${d} is not exact in float32`);
  return d === 1 ? n : `Math.floor(${n} / ${int(d)})`;
};

/** Clamps an integer-valued expression into [0, n - 1] (a read the kernel may not use must still stay in bounds). */
const clamp = (e: string, n: number): string => `Math.min(Math.max(${e}, 0), ${int(n - 1)})`;

/**
 * `clamp` for a float-typed expression, with float bounds: GL (gpu.js webgl2) keeps integer literals
 * in an index expression, and GLSL has no max(float, int).
 */
const clampF = (e: string, n: number): string => `Math.min(Math.max(${e}, 0.0), ${float(n - 1)})`;

/** Loop iterations a kernel's loops may plan in all: under `SOFTWARE_LOOP_LIMIT`, with room for rounding. */
export const LOOP_BUDGET = 60000;

/** Most copies of a loop body unrolling may make. */
const MAX_COPIES = 64;

/** A loop nest as lines, and the loop iterations one run of it takes. */
interface LoopPlan {
  readonly lines: string[];
  readonly iterations: number;
}

/**
 * A nest of literal loops (outermost first) around `body`, one run of which takes `inner` loop
 * iterations. Loops are unrolled from the innermost out (first partly, by powers of two, then
 * fully, moving outwards) only as far as needed to run at most `budget` iterations, and never into
 * more than MAX_COPIES copies of the body; when nothing fits, the plan with the fewest iterations
 * is returned (the kernel then reports more than SOFTWARE_LOOP_LIMIT and software renderers refuse it).
 */
export const planNest = (loops: ReadonlyArray<readonly [string, number]>, body: ReadonlyArray<string>, budget: number, inner = 0): LoopPlan => {
  const n = loops.length;
  const count = (unroll: ReadonlyArray<number>): number => {
    let it = inner;
    for (let i = n - 1; i >= 0; i--) it = unrolledIterations(loops[i][1], unroll[i], it);
    return it;
  };
  let best: { unroll: number[]; iterations: number } = { unroll: loops.map(() => 1), iterations: count(loops.map(() => 1)) };
  search: for (let full = 0; full < n && best.iterations > budget; full++) {
    const level = n - 1 - full;
    const fullCopies = loops.slice(level + 1).reduce((c, l) => c * l[1], 1);
    const bound = loops[level][1];
    for (let u = full === 0 ? 2 : 1; ; u = Math.min(u * 2, bound)) {
      if (fullCopies * u > MAX_COPIES) break search;
      const unroll = loops.map((l, i) => (i > level ? l[1] : i === level ? u : 1));
      const iterations = count(unroll);
      if (iterations < best.iterations) best = { unroll, iterations };
      if (iterations <= budget || u === bound) break;
    }
  }
  let lines = [...body];
  for (let i = n - 1; i >= 0; i--) lines = forRangeUnrolled(loops[i][0], loops[i][1], best.unroll[i], lines);
  return { lines, iterations: best.iterations };
};

/** What a root op contributes: statements, and the expression of its value. */
interface RootCode {
  readonly body: string[];
  readonly value: string;
}

/** A root op's code; `fused` are the elementwise ops the kernel applies after it. */
type RootGen = (op: Op, b: KernelBuilder, fused: ReadonlyArray<Op>) => RootCode;

const a = (op: Op, name: string): number => op.attrs[name] as number;

/** A sum over literal loops: `acc += term` inside the nest. */
const sumLoops = (b: KernelBuilder, loops: ReadonlyArray<readonly [string, number]>, pre: ReadonlyArray<string>, term: string, guard?: string): RootCode => {
  const acc = b.local('acc');
  const body = b.nest(loops, [...pre, guard ? `if (${guard}) { ${acc} += ${term}; }` : `${acc} += ${term};`]);
  return { body: [`let ${acc} = 0.0;`, ...body], value: acc };
};

/** Convolution geometry. */
const convGeometry = (op: Op) => {
  const g = {
    f: a(op, 'filters'), c: a(op, 'channels'), h: a(op, 'height'), w: a(op, 'width'), k: a(op, 'kernel'),
    s: a(op, 'stride'), p: a(op, 'padding'), oh: a(op, 'outH'), ow: a(op, 'outW'),
  };
  return { ...g, kk: g.k * g.k, hw: g.h * g.w, ohw: g.oh * g.ow };
};

/** Splits an in-sample index `e` of a `[C, H, W]` map into channel, row and column locals. */
const splitCHW = (b: KernelBuilder, e: string, c: number, h: number, w: number, names: readonly [string, string, string]): string[] => {
  const [ch, y, x] = names;
  const p = b.local('pos');
  return [
    `let ${ch} = ${div(e, h * w, c * h * w)};`,
    `let ${p} = ${e} - ${ch} * ${int(h * w)};`,
    `let ${y} = ${div(p, w, h * w)};`,
    `let ${x} = ${p} - ${y} * ${int(w)};`,
  ];
};

/** The in-sample element of member `j` (an expression) of group `group`. */
const memberElement = (op: Op, group: string, j: string): string => (op.attrs.local ? `(${j} * ${int(a(op, 'hw'))} + ${group})` : j);

/** The key of member `j` (an expression) of the current group, with its element index. */
const kwtaMember = (op: Op, b: KernelBuilder, x: number, dc: number, s: number, sample: string, group: string, j: string): { e: string; key: string; x: string } => {
  const hw = a(op, 'hw');
  const e = memberElement(op, group, j);
  const xv = b.rowAt(x, sample, e);
  return { e, x: xv, key: kwtaKey(xv, b.flat(dc, channelOf(e, hw)), b.scalar(s)) };
};

/**
 * The breakTies winner test of the current element (index `tx` of sample `ty`) with key `key` against
 * its group's threshold `t`: key > t wins; key == t wins while fewer than k - count(key > t) equal
 * keys come before it in member order (exactly k winners, lower index first).
 */
const breakTiesWins = (op: Op, b: KernelBuilder, x: number, dc: number, s: number, thr: number): { body: string[]; wins: string } => {
  const hw = a(op, 'hw');
  const group = op.attrs.local ? `(tx % ${int(hw)})` : '0';
  const mine = op.attrs.local ? div('tx', hw, a(op, 'members') * hw) : 'tx';
  const [key, t, above, before, mj, j, kj] = ['key', 'thr', 'above', 'before', 'mj', 'j', 'kj'].map((p) => b.local(p));
  const self = kwtaMember(op, b, x, dc, s, 'ty', group, mine);
  const member = kwtaMember(op, b, x, dc, s, 'ty', group, j);
  const body = [
    `let ${key} = ${self.key};`,
    `let ${t} = ${b.rowAt(thr, 'ty', group)};`,
    `let ${mj} = ${mine};`,
    `let ${above} = 0.0;`,
    `let ${before} = 0.0;`,
    ...b.nest([[j, a(op, 'members')]], [
      `let ${kj} = ${member.key};`,
      `if (${kj} > ${t}) { ${above} += 1.0; }`,
      `if (${kj} == ${t} && ${j} < ${mj}) { ${before} += 1.0; }`,
    ]),
  ];
  const test = `(${key} > ${t} || (${key} == ${t} && ${before} < ${float(a(op, 'k'))} - ${above}))`;
  return { body, wins: op.attrs.relu ? `(${test} && ${self.x} > 0.0)` : test };
};

/**
 * Weight densities at or below which a sparse weight's gradient skips its masked entries
 * (`linearGradW` fused with the mask): measured on gpujs:webasm (784 x 1000, batch 64, a loaded
 * machine) against the dense kernel, about 0.4x at 10%, 0.7x at 30%, and no gain at 50%.
 */
export const MASK_SKIP_DENSITY = 0.35;

/** Halvings of the k-winners threshold bisection. */
export const KWTA_BISECTION_STEPS = 64;

/** The winner test (no breakTies) of member `e` of sample `ty`: key >= threshold, and x > 0 with relu. */
const kwtaWinsAt = (op: Op, b: KernelBuilder, e: string): string => {
  const [x, dc, s, thr] = op.inputs;
  // the layer's kwtaKeys, when given (kwtaBlockCounts' fifth input, kwtaCompact's sixth)
  const keys = op.inputs[op.op === 'kwtaBlockCounts' ? 4 : 5];
  const key = keys !== undefined ? b.rowAt(keys, 'ty', e) : kwtaMember(op, b, x, dc, s, 'ty', '0', e).key;
  const test = `${key} >= ${b.rowAt(thr, 'ty', '0')}`;
  return op.attrs.relu ? `(${test} && ${b.rowAt(x, 'ty', e)} > 0.0)` : `(${test})`;
};

/** Binary-search steps that find any position in a list of `cap` entries. */
const searchSteps = (cap: number): number => Math.ceil(Math.log2(cap + 1)) + 1;

/** The code-for-op table of root ops. */
const roots: Partial<Record<Op['op'], RootGen>> = {
  kwtaBlockCounts: (op, b) => {
    // threads 0..nb-1 count a block each; thread nb counts the whole layer (the sample's total)
    const n = a(op, 'members');
    const nb = kwtaBlocks(n);
    b.iterations += n;
    return {
      body: [
        'let acc = 0.0;',
        ...forRange('i', n, [
          `if (tx < ${int(nb)} && i >= ${int(KWTA_BLOCK)}) { break; }`,
          'let first = 0.0;',
          `if (tx < ${int(nb)}) { first = tx * ${int(KWTA_BLOCK)}; }`,
          'let e = first + i;',
          `let ec = ${clampF('e', n)};`,
          `if (e < ${int(n)} && ${kwtaWinsAt(op, b, 'ec')}) { acc += 1.0; }`,
        ]),
      ],
      value: 'acc',
    };
  },
  kwtaCompact: (op, b) => {
    if (op.inputs.length < 5) throw new Error('gpu.js codegen: kwtaCompact needs its threshold and block counts (pass sparseForms with target gpujs)');
    const n = a(op, 'members');
    const L = compactLayout(a(op, 'cap'));
    const counts = op.inputs[4];
    const x = op.inputs[0];
    const nb = kwtaBlocks(n);
    const prefix = (lines: string[]) => {
      b.iterations += nb;
      return forRange('bi', nb, lines);
    };
    const scan = (lines: string[]) => {
      b.iterations += KWTA_BLOCK;
      return forRange('i', KWTA_BLOCK, lines);
    };
    const body = [
      `let slot = tx - ${float(L.index)};`, // a float in every mode (GL types tx as an int)
      `if (tx >= ${int(L.value)}) { slot = tx - ${float(L.value)}; }`,
      `let tot = ${b.rowAt(counts, 'ty', int(nb))};`,
      'let blk = 0.0;',
      'let before = 0.0;',
      'let run = 0.0;',
      ...prefix([
        'if (slot < 0 || slot >= tot) { break; }',
        `let cb = ${b.rowAt(counts, 'ty', 'bi')};`,
        'if (run <= slot && run + cb > slot) { blk = bi; before = run; }',
        'run += cb;',
        'if (run > slot) { break; }',
      ]),
      'let found = 0.0;',
      'let cnt = before;',
      // slots past the count (most of them) and the header skip the scan
      ...scan([
        'if (slot < 0 || slot >= tot) { break; }',
        `let e = blk * ${int(KWTA_BLOCK)} + i;`,
        `let ec = ${clampF('e', n)};`,
        `if (e < ${int(n)} && ${kwtaWinsAt(op, b, 'ec')}) {`,
        '  if (cnt == slot) { found = e; }',
        '  cnt += 1.0;',
        '}',
      ]),
      'let res = 0.0;',
      'if (tx == 0) { res = tot; }',
      `if (tx >= ${int(L.index)} && tx < ${int(L.value)} && slot < tot) { res = found; }`,
      `let fc = ${clampF('found', n)};`,
      `if (tx >= ${int(L.value)} && slot < tot) { res = ${b.rowAt(x, 'ty', 'fc')}; }`,
    ];
    return { body, value: 'res' };
  },
  transpose: (op, b) => {
    if (op.attrs.sums) throw new Error('gpu.js codegen: transpose with sums is not generated');
    return { body: [], value: b.at2(op.inputs[0], 'tx', 'ty') };
  },
  gather: (op, b) => {
    if (op.attrs.base) throw new Error('gpu.js codegen: gather with a base is not generated');
    const [c, r] = op.inputs;
    const { rows, cap } = op.attrs as { rows: number; cap: number };
    const L = compactLayout(cap);
    const acc = b.local('acc');
    b.iterations += cap;
    return {
      body: [
        `let cnt = ${b.rowAt(c, 'ty', '0')};`,
        `let ${acc} = 0.0;`,
        ...forRange('j', cap, [
          'if (j >= cnt) { break; }',
          `let idx = ${b.rowAt(c, 'ty', `${int(L.index)} + j`)};`,
          `let ic = ${clampF('idx', rows)};`,
          `${acc} += ${b.rowAt(c, 'ty', `${int(L.value)} + j`)} * ${b.at2(r, 'ic', 'tx')};`,
        ]),
      ],
      value: acc,
    };
  },
  linearGradXAt: (op, b) => {
    const [g, w, at] = op.inputs;
    const { units, fanIn, cap, gCap } = op.attrs as Record<string, number>;
    if (gCap > 0) throw new Error('gpu.js codegen: linearGradXAt of a compact gradient is not generated');
    const L = compactLayout(cap);
    const acc = b.local('acc');
    b.iterations += units;
    return {
      body: [
        `let cnt = ${b.rowAt(at, 'ty', '0')};`,
        `let ${acc} = 0.0;`,
        `let slot = tx - ${float(L.value)};`,
        `let run = 0.0;`,
        'if (slot >= 0 && slot < cnt) { run = 1.0; }',
        `let sc = ${clampF('slot', cap)};`,
        `let idx = ${b.rowAt(at, 'ty', `${int(L.index)} + sc`)};`,
        `let ci = ${clampF('idx', fanIn)};`,
        ...forRange('u', units, ['if (run < 0.5) { break; }', `${acc} += ${b.rowAt(g, 'ty', 'u')} * ${b.at2(w, 'u', 'ci')};`]),
        `let res = ${b.rowAt(at, 'ty', 'tx')};`, // the same record layout: tx is in bounds
        `if (tx >= ${int(L.value)}) { res = ${acc}; }`,
      ],
      value: 'res',
    };
  },
  expand: (op, b) => {
    const [c] = op.inputs;
    const cap = a(op, 'cap');
    const L = compactLayout(cap);
    const e = b.reader().elem;
    return {
      body: [
        `let cnt = ${b.rowAt(c, 'ty', '0')};`,
        'let lo = 0.0;',
        'let hi = cnt;',
        ...b.nest([['step', searchSteps(cap)]], [
          'if (lo < hi) {',
          '  let mid = Math.floor((lo + hi) * 0.5);',
          `  let mc = ${clampF('mid', cap)};`,
          `  if (${b.rowAt(c, 'ty', `${int(L.index)} + mc`)} < ${e}) { lo = mid + 1.0; } else { hi = mid; }`,
          '}',
        ]),
        `let res = ${b.rowAt(c, 'ty', '1')};`,
        `let lc = ${clampF('lo', cap)};`,
        `if (lo < cnt && ${b.rowAt(c, 'ty', `${int(L.index)} + lc`)} == ${e}) { res = res + ${b.rowAt(c, 'ty', `${int(L.value)} + lc`)}; }`,
      ],
      value: 'res',
    };
  },
  /** A thread per (sample, unit): the sum over the unit's `kept` inputs (a literal loop bound) only. */
  linearIdx: (op, b) => {
    const [x, w, idx] = op.inputs;
    if (op.inputs.length !== 3) throw new Error('gpu.js codegen: linearIdx takes (x, W, idx)');
    const { fanIn, kept } = op.attrs as Record<string, number>;
    return sumLoops(b, [['t', kept]], [`let jc = ${clampF(b.at2(idx, 'tx', 't'), fanIn)};`], `${b.at2(w, 'tx', 'jc')} * ${b.rowAt(x, 'ty', 'jc')}`);
  },
  /**
   * A thread per (unit, input), scatter-free and dense: a binary search in the unit's sorted index
   * list says whether the input is kept; only then the loop over the batch runs, else the result is 0.
   */
  linearIdxGradW: (op, b) => {
    const [g, x, idx] = op.inputs;
    if (op.inputs.length !== 3) throw new Error('gpu.js codegen: linearIdxGradW takes (g, x, idx)');
    const kept = a(op, 'kept');
    const at = (i: string) => b.at2(idx, 'ty', clampF(i, kept));
    const sum = sumLoops(b, [['smp', b.batch]], [], `${b.rowAt(g, 'smp', 'ty')} * ${b.rowAt(x, 'smp', 'tx')}`);
    return {
      body: [
        'let lo = 0.0;',
        `let hi = ${float(kept)};`,
        ...b.nest([['step', searchSteps(kept)]], [
          'if (lo < hi) {',
          '  let mid = Math.floor((lo + hi) * 0.5);',
          `  if (${at('mid')} < tx) { lo = mid + 1.0; } else { hi = mid; }`,
          '}',
        ]),
        'let hit = 0.0;',
        `if (lo < ${float(kept)} && ${at('lo')} == tx) { hit = 1.0; }`,
        ...sum.body.slice(0, 1),
        'if (hit > 0.5) {',
        ...sum.body.slice(1).map((l) => `  ${l}`),
        '}',
      ],
      value: sum.value,
    };
  },
  linear: (op, b) => {
    const [x, w] = op.inputs;
    return sumLoops(b, [['i', a(op, 'fanIn')]], [], `${b.rowAt(x, 'ty', 'i')} * ${b.at2(w, 'tx', 'i')}`);
  },
  linearGradX: (op, b) => {
    const [g, w] = op.inputs;
    return sumLoops(b, [['u', a(op, 'units')]], [], `${b.rowAt(g, 'ty', 'u')} * ${b.at2(w, 'u', 'tx')}`);
  },
  linearGradW: (op, b, fused) => {
    const [g, x] = op.inputs;
    const sum = sumLoops(b, [['smp', b.batch]], [], `${b.rowAt(g, 'smp', 'ty')} * ${b.rowAt(x, 'smp', 'tx')}`);
    // A sparse weight's gradient whose kernel ends multiplying by the layer's mask (the optimizer's
    // masked momentum): only the kept entries loop over the batch, the others stay 0 (their result is
    // 0 x the momentum anyway). Scatter-free, dense, one mask read per thread; only below
    // MASK_SKIP_DENSITY, since neighbouring threads run together (webasm's 4 SIMD lanes, a GPU's
    // warps) and the loop is only skipped where all of them skip it.
    const mask = fused.find((o) => {
      const m = b.ir.ops[o.inputs[1]];
      return o.op === 'maskScale' && m.op === 'mask' && String(m.shape) === String(b.ir.ops[b.out].shape) && (m.attrs.kept as number | undefined ?? Infinity) <= MASK_SKIP_DENSITY * a(op, 'fanIn');
    });
    if (!mask) return sum;
    return { body: [sum.body[0], `if (${b.at2(mask.inputs[1], 'ty', 'tx')} > 0.5) {`, ...sum.body.slice(1).map((l) => `  ${l}`), '}'], value: sum.value };
  },
  conv: (op, b) => {
    const [x, w] = op.inputs;
    const g = convGeometry(op);
    const [f, oy, ox] = ['f', 'oy', 'ox'].map((n) => b.local(n));
    const split = splitCHW(b, 'tx', g.f, g.oh, g.ow, [f, oy, ox]);
    const iy = `(${oy} * ${int(g.s)} + ky - ${int(g.p)})`;
    const ix = `(${ox} * ${int(g.s)} + kx - ${int(g.p)})`;
    const padded = g.p > 0;
    const pre = padded ? [`let iy = ${iy};`, `let ix = ${ix};`] : [];
    const ry = padded ? clamp('iy', g.h) : iy;
    const rx = padded ? clamp('ix', g.w) : ix;
    const term = `${b.rowAt(x, 'ty', `c * ${int(g.hw)} + ${ry} * ${int(g.w)} + ${rx}`)} * ${b.at2(w, f, `c * ${int(g.kk)} + ky * ${int(g.k)} + kx`)}`;
    const guard = padded ? `iy >= 0 && iy < ${int(g.h)} && ix >= 0 && ix < ${int(g.w)}` : undefined;
    const sum = sumLoops(b, [['c', g.c], ['ky', g.k], ['kx', g.k]], pre, term, guard);
    return { body: [...split, ...sum.body], value: sum.value };
  },
  convGradX: (op, b) => {
    const [gr, w] = op.inputs;
    const g = convGeometry(op);
    const [c, iy, ix] = ['ch', 'iy', 'ix'].map((n) => b.local(n));
    const split = splitCHW(b, 'tx', g.c, g.h, g.w, [c, iy, ix]);
    // output position (oy, ox) with oy * s - p + ky = iy: oy = (iy + p - ky) / s when that is a whole number in range
    const pre = [`let dy = ${iy} + ${int(g.p)} - ky;`, `let dx = ${ix} + ${int(g.p)} - kx;`];
    const conds = [`dy >= 0`, `dx >= 0`];
    if (g.s > 1) {
      pre.push(`let oy = Math.floor(dy / ${int(g.s)});`, `let ox = Math.floor(dx / ${int(g.s)});`);
      conds.push(`dy == oy * ${int(g.s)}`, `dx == ox * ${int(g.s)}`);
    } else pre.push('let oy = dy;', 'let ox = dx;');
    conds.push(`oy < ${int(g.oh)}`, `ox < ${int(g.ow)}`);
    const term = `${b.rowAt(gr, 'ty', `f * ${int(g.ohw)} + ${clamp('oy', g.oh)} * ${int(g.ow)} + ${clamp('ox', g.ow)}`)} * ${b.at2(w, 'f', `${c} * ${int(g.kk)} + ky * ${int(g.k)} + kx`)}`;
    const sum = sumLoops(b, [['f', g.f], ['ky', g.k], ['kx', g.k]], pre, term, conds.join(' && '));
    return { body: [...split, ...sum.body], value: sum.value };
  },
  convGradW: (op, b) => {
    const [gr, x] = op.inputs;
    const g = convGeometry(op);
    const [c, ky, kx] = ['ch', 'ky', 'kx'].map((n) => b.local(n));
    const split = splitCHW(b, 'tx', g.c, g.k, g.k, [c, ky, kx]);
    const padded = g.p > 0;
    const iy = `(oy * ${int(g.s)} + ${ky} - ${int(g.p)})`;
    const ix = `(ox * ${int(g.s)} + ${kx} - ${int(g.p)})`;
    const pre = padded ? [`let iy = ${iy};`, `let ix = ${ix};`] : [];
    const ry = padded ? clamp('iy', g.h) : iy;
    const rx = padded ? clamp('ix', g.w) : ix;
    const term = `${b.rowAt(gr, 'smp', `ty * ${int(g.ohw)} + oy * ${int(g.ow)} + ox`)} * ${b.rowAt(x, 'smp', `${c} * ${int(g.hw)} + ${ry} * ${int(g.w)} + ${rx}`)}`;
    const guard = padded ? `iy >= 0 && iy < ${int(g.h)} && ix >= 0 && ix < ${int(g.w)}` : undefined;
    const sum = sumLoops(b, [['smp', b.batch], ['oy', g.oh], ['ox', g.ow]], pre, term, guard);
    return { body: [...split, ...sum.body], value: sum.value };
  },
  biasGrad: (op, b) => {
    const [g] = op.inputs;
    const hw = a(op, 'hw');
    return hw === 1
      ? sumLoops(b, [['smp', b.batch]], [], b.rowAt(g, 'smp', 'tx'))
      : sumLoops(b, [['smp', b.batch], ['p', hw]], [], b.rowAt(g, 'smp', `tx * ${int(hw)} + p`));
  },
  maxPool: (op, b) => {
    const [x] = op.inputs;
    const [sz, c, h, w, oh, ow] = ['size', 'channels', 'height', 'width', 'outH', 'outW'].map((n) => a(op, n));
    const [ch, oy, ox] = ['ch', 'oy', 'ox'].map((n) => b.local(n));
    const base = b.local('base');
    const m = b.local('best');
    return {
      body: [
        ...splitCHW(b, 'tx', c, oh, ow, [ch, oy, ox]),
        `let ${base} = ${ch} * ${int(h * w)} + ${oy} * ${int(sz * w)} + ${ox} * ${int(sz)};`,
        `let ${m} = ${b.rowAt(x, 'ty', base)};`,
        ...b.nest([['ky', sz], ['kx', sz]], [`let v = ${b.rowAt(x, 'ty', `${base} + ky * ${int(w)} + kx`)};`, `if (v > ${m}) { ${m} = v; }`]),
      ],
      value: m,
    };
  },
  maxPoolGrad: (op, b) => {
    const [g, x] = op.inputs;
    const [sz, c, h, w, oh, ow] = ['size', 'channels', 'height', 'width', 'outH', 'outW'].map((n) => a(op, n));
    const [ch, iy, ix] = ['ch', 'iy', 'ix'].map((n) => b.local(n));
    // the window this element lies in (trailing rows and columns that fill no window get 0)
    const oyRaw = div(iy, sz, h);
    const oxRaw = div(ix, sz, w);
    const inside = oh * sz < h || ow * sz < w ? `oy < ${int(oh)} && ox < ${int(ow)}` : undefined;
    const base = `${ch} * ${int(h * w)} + ${inside ? clamp('oy', oh) : 'oy'} * ${int(sz * w)} + ${inside ? clamp('ox', ow) : 'ox'} * ${int(sz)}`;
    const gAt = b.rowAt(g, 'ty', `${ch} * ${int(oh * ow)} + ${inside ? clamp('oy', oh) : 'oy'} * ${int(ow)} + ${inside ? clamp('ox', ow) : 'ox'}`);
    const first = `(${iy} - oy * ${int(sz)}) * ${int(sz)} + ${ix} - ox * ${int(sz)}`;
    const test = `arg == ${first}${inside ? ` && ${inside}` : ''}`;
    return {
      body: [
        ...splitCHW(b, 'tx', c, h, w, [ch, iy, ix]),
        `let oy = ${oyRaw};`,
        `let ox = ${oxRaw};`,
        `let base = ${base};`,
        `let best = ${b.rowAt(x, 'ty', 'base')};`,
        'let arg = 0.0;',
        ...b.nest([['ky', sz], ['kx', sz]], [`let v = ${b.rowAt(x, 'ty', `base + ky * ${int(w)} + kx`)};`, `if (v > best) { best = v; arg = ky * ${int(sz)} + kx; }`]),
        `let res = 0.0;`,
        `if (${test}) { res = ${gAt}; }`,
      ],
      value: 'res',
    };
  },
  /**
   * The exact k-th largest key of each sample's group, by bisection on the value: with lo = the
   * smallest key and hi above the largest, 64 halvings keep count(key >= lo) >= k > count(key >= hi),
   * so the k-th largest key T lies in [lo, hi); the result is the largest key below hi.
   * Exactness: that is T whenever [lo, hi) ends up holding no other distinct key, which holds when
   * the next larger distinct key is more than (max - min + |max| + 1) * 2^-64 above T — always for
   * float32 keys whose spacing near T exceeds that (|T| above about 2^-40 times the key range);
   * only keys closer than that (e.g. 1e-30 beside 0) merge, and then fewer than k win.
   */
  kwtaThreshold: (op, b) => {
    const [x, dc, s, keys] = op.inputs;
    const members = a(op, 'members');
    // with the layer's kwtaKeys, every step reads the keys instead of evaluating an exp per member
    const keyOf = (j: string) => (keys !== undefined ? b.rowAt(keys, 'ty', memberElement(op, 'tx', j)) : kwtaMember(op, b, x, dc, s, 'ty', 'tx', j).key);
    // the two single passes take 1/16 of the loop budget each, the bisection the rest
    const pass = Math.floor(LOOP_BUDGET / 16);
    const count = planNest([['jb', members]], [`if (${keyOf('jb')} >= mid) { cnt += 1.0; }`], Math.floor((LOOP_BUDGET - 2 * pass) / KWTA_BISECTION_STEPS) - 1);
    return {
      body: [
        `let lo = ${keyOf('0')};`,
        'let hi = lo;',
        ...b.nest([['j', members]], [`let kj = ${keyOf('j')};`, 'if (kj < lo) { lo = kj; }', 'if (kj > hi) { hi = kj; }'], pass),
        'let least = lo;',
        'hi = hi + Math.abs(hi) + 1.0;',
        ...b.nest(
          [['step', KWTA_BISECTION_STEPS]],
          ['let mid = lo + (hi - lo) * 0.5;', 'let cnt = 0.0;', ...count.lines, `if (cnt >= ${float(a(op, 'k'))}) { lo = mid; } else { hi = mid; }`],
          Infinity,
          count.iterations,
        ),
        'let thr = least;',
        ...b.nest([['jc', members]], [`let kc = ${keyOf('jc')};`, 'if (kc < hi && kc > thr) { thr = kc; }'], pass),
      ],
      value: 'thr',
    };
  },
  kwtaApply: (op, b) => {
    const [x, thr, dc, s] = op.inputs;
    if (!op.attrs.breakTies) {
      const xv = b.local('xv');
      return { body: [`let ${xv} = ${b.rowAt(x, 'ty', 'tx')};`], value: `(${kwtaWins(op, xv, b.reader(), 'tx')} ? ${xv} : 0.0)` };
    }
    const { body, wins } = breakTiesWins(op, b, x, dc, s, thr);
    return { body, value: `(${wins} ? ${b.rowAt(x, 'ty', 'tx')} : 0.0)` };
  },
  kwtaGrad: (op, b) => {
    if (!op.attrs.breakTies) {
      const r = b.reader();
      return { body: [], value: elementwiseExpr(op, r.same(op.inputs[0]), r) };
    }
    const [g, x, thr, dc, s] = op.inputs;
    const { body, wins } = breakTiesWins(op, b, x, dc, s, thr);
    return { body, value: `(${wins} ? ${b.rowAt(g, 'ty', 'tx')} : 0.0)` };
  },
  dutyCycle: (op, b) => {
    const [y, dc, seen] = op.inputs;
    const hw = a(op, 'hw');
    const count = hw === 1
      ? sumLoops(b, [['smp', b.batch]], [], '1.0', `${b.rowAt(y, 'smp', 'tx')} > 0.0`)
      : sumLoops(b, [['smp', b.batch], ['p', hw]], [], '1.0', `${b.rowAt(y, 'smp', `tx * ${int(hw)} + p`)} > 0.0`);
    return {
      body: [...count.body, `let period = Math.min(${float(a(op, 'period'))}, ${b.scalar(seen)});`],
      value: `((${b.flat(dc, 'tx')} * (period - ${float(b.batch)}) + ${count.value} / ${float(hw)}) / period)`,
    };
  },
  batchMean: (op, b) => channelSum(op, b),
  batchVar: (op, b) => channelSum(op, b),
  normalizeGradScale: (op, b) => channelSum(op, b),
  xentGrad: (op, b) => {
    const { body, lse } = logSumExp(op, b);
    const [logits, labels] = op.inputs;
    return {
      body: [...body, `let hot = Math.abs(tx - ${b.rowAt(labels, 'ty', '0')}) < 0.5 ? 1.0 : 0.0;`],
      value: `((Math.exp(${b.rowAt(logits, 'ty', 'tx')} - ${lse}) - hot) / ${float(b.batch)})`,
    };
  },
  xentStats: (op, b) => {
    const { body, lse } = logSumExp(op, b);
    const [logits, labels] = op.inputs;
    const l = (c: string) => b.rowAt(logits, 'ty', c);
    return {
      body: [
        ...body,
        `let lbl = ${b.rowAt(labels, 'ty', '0')};`,
        `let top = ${l('0')};`,
        'let arg = 0.0;',
        'let picked = 0.0;',
        ...b.nest([['cs', a(op, 'classes')]], [
          `let ls = ${l('cs')};`,
          'if (ls > top) { top = ls; arg = cs; }',
          'if (Math.abs(cs - lbl) < 0.5) { picked = ls; }',
        ], LOOP_BUDGET / 4),
        'let stat = 0.0;',
        `if (tx == 0) { stat = ${lse} - picked; } else { stat = Math.abs(arg - lbl) < 0.5 ? 1.0 : 0.0; }`,
      ],
      value: 'stat',
    };
  },
};

/**
 * Batch-norm reductions, one thread per channel `tx`, over the samples and the channel's hw
 * positions: batchMean sums x, batchVar (x - mean)^2 (both then / count), normalizeGradScale g x xhat.
 */
const channelSum = (op: Op, b: KernelBuilder): RootCode => {
  const hw = a(op, 'hw');
  const [first, second] = op.inputs;
  const loops: ReadonlyArray<readonly [string, number]> = hw === 1 ? [['smp', b.batch]] : [['smp', b.batch], ['p', hw]];
  const at = (v: number) => b.rowAt(v, 'smp', hw === 1 ? 'tx' : `tx * ${int(hw)} + p`);
  const count = float(b.batch * hw);
  switch (op.op) {
    case 'batchMean': {
      const sum = sumLoops(b, loops, [], at(first));
      return { body: sum.body, value: `(${sum.value} / ${count})` };
    }
    case 'batchVar': {
      const [mu, dev] = [b.local('mu'), b.local('dev')];
      const sum = sumLoops(b, loops, [`let ${dev} = ${at(first)} - ${mu};`], `${dev} * ${dev}`);
      return { body: [`let ${mu} = ${b.flat(second, 'tx')};`, ...sum.body], value: `(${sum.value} / ${count})` };
    }
    default: {
      const [, , mean, variance] = op.inputs;
      const [mu, is] = [b.local('mu'), b.local('istd')];
      const sum = sumLoops(b, loops, [], `${at(first)} * ((${at(second)} - ${mu}) * ${is})`);
      return { body: [`let ${mu} = ${b.flat(mean, 'tx')};`, `let ${is} = ${invStd(op, b.reader(), variance, 'tx')};`, ...sum.body], value: sum.value };
    }
  }
};

/** The numerically stable log-sum-exp of the current sample's logits (row maximum subtracted). */
const logSumExp = (op: Op, b: KernelBuilder): { body: string[]; lse: string } => {
  const logits = op.inputs[0];
  const classes = a(op, 'classes');
  return {
    body: [
      `let mx = ${b.rowAt(logits, 'ty', '0')};`,
      ...b.nest([['cm', classes]], [`mx = Math.max(mx, ${b.rowAt(logits, 'ty', 'cm')});`], LOOP_BUDGET / 4),
      'let se = 0.0;',
      ...b.nest([['ce', classes]], [`se += Math.exp(${b.rowAt(logits, 'ty', 'ce')} - mx);`], LOOP_BUDGET / 4),
      'let lse = Math.log(se) + mx;',
    ],
    lse: 'lse',
  };
};

/** Options of `gpujsKernels`. */
export interface GpujsKernelOptions {
  /**
   * The largest output side the device can write. gpu.js's GL modes render a 2-D output
   * `[cols, rows]` into a texture of exactly that size, which must fit the device's
   * MAX_TEXTURE_SIZE (8192 on SwiftShader, the WebGL2 of headless Chromium; a conv layer's
   * activations at batch 8 can be 17,280 wide). A kernel whose 2-D output has a side past this
   * writes it as one row instead (`outputDims`: gpu.js then packs it into a square texture) and
   * recovers its (column, row) from the flat thread index. Only for modes that read results back
   * after each kernel (the runtime re-wraps them with `dims`); unset, outputs keep `dims`.
   */
  readonly maxOutputSide?: number;
}

/** The gpu.js kernel of one schedule kernel at a batch size. */
export const gpujsKernel = (s: Schedule, k: Kernel, batch: number, options: GpujsKernelOptions = {}): GpujsKernel => {
  const ir = s.ir;
  const root = ir.ops[k.ops[0]];
  const dims = dimsOf(ir, k.output, batch);
  const b = new KernelBuilder(ir, batch, k.output, dims);
  for (const o of k.ops) {
    const op = ir.ops[o];
    if (op.batched !== root.batched || String(op.shape) !== String(root.shape)) throw new Error(`gpu.js codegen: kernel ${k.name} fuses ops of different layouts`);
  }
  const gen = roots[root.op];
  const ew = opDef(root.op).elementwise;
  let code: RootCode;
  if (gen) code = gen(root, b, k.ops.slice(1).map((o) => ir.ops[o]));
  else if (ew) {
    const r = b.reader();
    code = { body: [], value: elementwiseExpr(root, r.same(root.inputs[ew.main]), r) };
  } else throw new Error(`gpu.js codegen: no code for ${root.op}`);
  const flatOut = dims.length === 2 && options.maxOutputSide !== undefined && Math.max(dims[0], dims[1]) > options.maxOutputSide;
  const outputDims: Dims = flatOut ? [dims[0] * dims[1]] : dims;
  for (const d of outputDims) if (d >= F32_EXACT) throw new Error(`gpu.js codegen: kernel ${k.name} writes ${d} elements in one row, past 2^24`);
  const head = flatOut
    ? ['let tf = this.thread.x;', `let ty = ${div('tf', dims[0], dims[0] * dims[1])};`, `let tx = tf - ty * ${int(dims[0])};`]
    : dims.length === 2 ? ['let tx = this.thread.x;', 'let ty = this.thread.y;'] : ['let tx = this.thread.x;'];
  const body = [...head, ...code.body, `let r0 = ${code.value};`];
  const r = b.reader();
  k.ops.slice(1).forEach((o, i) => {
    const op = ir.ops[o];
    if (op.op === 'kwtaGrad' && op.attrs.breakTies) {
      // the exactly-k winner test needs a loop over the group, so it is not an expression: inline it
      const [, x, thr, dc, s] = op.inputs;
      const t = breakTiesWins(op, b, x, dc, s, thr);
      body.push(...t.body, `let r${i + 1} = (${t.wins} ? r${i} : 0.0);`);
    } else body.push(`let r${i + 1} = ${elementwiseExpr(op, `r${i}`, r)};`);
  });
  const source = kernelSource(b.args.map((p) => p.name), body, `r${k.ops.length - 1}`);
  return { index: k.index, name: k.name, source, settings: kernelSettings(outputDims), args: b.args, output: k.output, dims, outputDims, loopIterations: b.iterations };
};

/** Every kernel of a schedule as gpu.js kernels, in order. */
export const gpujsKernels = (s: Schedule, batch: number, options: GpujsKernelOptions = {}): GpujsKernel[] => s.kernels.map((k) => gpujsKernel(s, k, batch, options));

/** A kernel for people (and golden files): what it writes, what each parameter binds to, then its source. */
export const kernelListing = (k: GpujsKernel): string =>
  [
    `kernel ${k.name}: writes %${k.output} as [${k.dims.join(', ')}]${k.outputDims.length !== k.dims.length ? ` (in one row of ${k.outputDims[0]})` : ''}, ${k.loopIterations} loop iterations per thread`,
    ...k.args.map((a) => (a.kind === 'array' ? `  ${a.name}: %${a.value} as [${a.dims.join(', ')}]` : `  ${a.name}: %${a.value} as a number`)),
    '',
    k.source,
    '',
  ].join('\n');
