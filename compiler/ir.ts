/**
 * winnow's IR: one immutable, SSA-form list of ops. Every value is produced by exactly one op and
 * named `%id`; ops only read values defined before them. Activations are *batched* (their shape is
 * per sample; the batch dimension is implicit); parameters and state have absolute shapes.
 *
 * Attributes hold only numbers, booleans and enum strings that the compiler itself chose, never
 * text from a model file, so nothing a user wrote can reach generated kernel source.
 *
 * @example
 * import { trace } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * console.log(trace(readModelFile('examples/models/sparse-mlp.json')).asText());
 */
import type { Shape } from '../dsl/shape.ts';

/** Element types. */
export type DType = 'f32' | 'i32';

/** What an attribute may hold. */
export type AttrValue = number | boolean | string | ReadonlyArray<number>;

/**
 * The op kinds of the front end (one per layer kind, plus graph inputs, parameters and state).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, type OpName } from 'winnow/compiler';
 * const names: OpName[] = trace(pipe(input([8]), dense(4), kwta({ k: 2 }), softmaxCrossEntropy)).ir.ops.map((o) => o.op);
 * // ['input', 'param', 'param', 'dense', 'state', 'state', 'kwta', 'softmaxCrossEntropy']
 */
export type OpName =
  | 'input'
  | 'param'
  | 'state'
  | 'dense'
  | 'conv2d'
  | 'maxPool2d'
  | 'flatten'
  | 'relu'
  | 'batchNorm'
  | 'kwta'
  | 'dropout'
  | 'softmaxCrossEntropy'
  | PrimName;

/**
 * The primitive ops of the back end: what layer ops decompose into, what gradient rules and the
 * optimizer emit, and what code generators implement (one code-for-op table per backend). Each
 * is defined, with its gradient rule, in `compiler/ops/prim/`.
 *
 * @example
 * import type { PrimName } from 'winnow/compiler';
 * const p: PrimName = 'linear';
 */
export type PrimName =
  | 'labels'
  | 'scalar'
  | 'random'
  | 'mask'
  | 'moment'
  | 'linear'
  | 'linearGradX'
  | 'linearGradW'
  | 'conv'
  | 'convGradX'
  | 'convGradW'
  | 'biasAdd'
  | 'biasGrad'
  | 'reluGrad'
  | 'maskScale'
  | 'scale'
  | 'add'
  | 'maxPool'
  | 'maxPoolGrad'
  | 'kwtaThreshold'
  | 'kwtaApply'
  | 'kwtaGrad'
  | 'dutyCycle'
  | 'batchMean'
  | 'batchVar'
  | 'runningStat'
  | 'normalize'
  | 'normalizeGradScale'
  | 'normalizeGradX'
  | 'kwtaCompact'
  | 'kwtaBlockCounts'
  | 'kwtaKeys'
  | 'compactInput'
  | 'dutyCycleCompact'
  | 'transpose'
  | 'gather'
  | 'linearGradXAt'
  | 'linearGradWOuter'
  | 'biasGradCompact'
  | 'convWeightT'
  | 'convScatter'
  | 'convGradXFrom'
  | 'channelLast'
  | 'convGradWFrom'
  | 'maxPoolGradCompact'
  | 'expand'
  | 'pickAt'
  | 'maskIndex'
  | 'linearIdx'
  | 'linearIdxGradX'
  | 'linearIdxGradW'
  | 'transposeBatch'
  | 'xentGrad'
  | 'xentStats'
  | 'momentum'
  | 'sgdUpdate';

/**
 * One op, producing the value `%id`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, lower, type Op } from 'winnow/compiler';
 * const op: Op = lower(trace(pipe(input([4]), dense(2), softmaxCrossEntropy))).ir.ops[3];
 * op.op; // 'dense'
 * op.inputs; // [0, 1, 2] (activation, weight, bias)
 * op.shape; // [2] (per sample: op.batched is true)
 * op.notes; // { params: 10, nonzeroParams: 10 }
 */
export interface Op {
  readonly id: number;
  readonly op: OpName;
  readonly inputs: ReadonlyArray<number>;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** Shape: per sample when `batched`, absolute otherwise. Absent until shape inference. */
  readonly shape?: Shape;
  readonly dtype: DType;
  /** True for activations (a leading batch dimension is implicit). */
  readonly batched: boolean;
  /** The network layer this op comes from, if any. */
  readonly layer?: number;
  /** Numbers passes computed about the op (for example `params`, `nonzeroParams`). */
  readonly notes?: Readonly<Record<string, number>>;
}

/**
 * A whole program: ops in definition order (`ops[i].id === i`) and the value it returns.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, type IR } from 'winnow/compiler';
 * const ir: IR = trace(pipe(input([4]), dense(2), softmaxCrossEntropy)).ir;
 * ir.ops.map((o) => o.op); // ['input', 'param', 'param', 'dense', 'softmaxCrossEntropy']
 * ir.output; // 4
 * ir.inputShape; // [4]
 */
export interface IR {
  readonly ops: ReadonlyArray<Op>;
  /** The value the network outputs (logits for a classifier). */
  readonly output: number;
  /** The per-sample input shape. */
  readonly inputShape: Shape;
  /** Further named results of a program (`stats`: per-sample loss and correctness). */
  readonly results?: Readonly<Record<string, number>>;
  /** State a program writes: the source op `source` takes the value `value` after the program. */
  readonly updates?: ReadonlyArray<{ readonly source: number; readonly value: number }>;
}

/** The op producing `%id` (ids are indices). */
export const opById = (ir: IR, id: number): Op => ir.ops[id];

/** A copy of `ir` with `op` replaced (ids are indices, so `op.id` says where). */
export const replaceOp = (ir: IR, op: Op): IR => ({ ...ir, ops: ir.ops.map((o) => (o.id === op.id ? op : o)) });

const formatAttr = (v: AttrValue): string =>
  Array.isArray(v) ? `[${v.join(',')}]` : typeof v === 'number' ? formatNumber(v) : String(v);

/** Shortest faithful decimal for IR text. */
const formatNumber = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))));

/**
 * The IR as text, one op per line: `%3 = conv2d(%0, %1, %2) {kernel=5, ...} : f32[32,24,24] ; layer 0`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, lower, printIR } from 'winnow/compiler';
 * console.log(printIR(lower(trace(pipe(input([4]), dense(2), softmaxCrossEntropy))).ir));
 * // %0 = input : f32[b,4]
 * // %1 = param {role=weight, init=uniform, bound=0.5, layer=0} : f32[2,4] ; layer 0
 * // %2 = param {role=bias, init=uniform, bound=0.5, layer=0} : f32[2] ; layer 0
 * // %3 = dense(%0, %1, %2) {units=2, bias=true, weightDensity=1, dropconnect=0, keptPerUnit=4, fanIn=4} : f32[b,2] ; layer 0, params=10, nonzeroParams=10
 * // %4 = softmaxCrossEntropy(%3) : f32[b,2] ; layer 1
 * // return %4
 */
export const printIR = (ir: IR): string => {
  const lines = ir.ops.map((o) => {
    const args = o.inputs.length ? `(${o.inputs.map((i) => `%${i}`).join(', ')})` : '';
    const attrs = Object.keys(o.attrs).length
      ? ` {${Object.entries(o.attrs).map(([k, v]) => `${k}=${formatAttr(v)}`).join(', ')}}`
      : '';
    const shape = o.shape ? `${o.dtype}[${o.batched ? 'b,' : ''}${o.shape.join(',')}]` : `${o.dtype}[${o.batched ? 'b,' : ''}?]`;
    const meta = [
      ...(o.layer !== undefined ? [`layer ${o.layer}`] : []),
      ...Object.entries(o.notes ?? {}).map(([k, v]) => `${k}=${formatNumber(v)}`),
    ];
    return `%${o.id} = ${o.op}${args}${attrs} : ${shape}${meta.length ? ` ; ${meta.join(', ')}` : ''}`;
  });
  const results = Object.entries(ir.results ?? {}).map(([k, v]) => `result ${k} = %${v}`);
  const updates = (ir.updates ?? []).map((u) => `update %${u.source} <- %${u.value}`);
  return [...lines, `return %${ir.output}`, ...results, ...updates].join('\n');
};
