/**
 * The scalar semantics of elementwise primitives, written once as JavaScript expressions and
 * shared by every code generator (generated JavaScript and gpu.js kernels are both JavaScript
 * syntax). What differs per backend is only how a value is read, which each backend provides as
 * a `Reader`. Expressions contain only numbers, operators, `Math` calls and what the reader
 * returns: never text from a model file.
 */
import type { Op } from '../ir.ts';

/** How a backend reads values at the current output element. */
export interface Reader {
  /** Value `v` at the same position as the kernel's output element. */
  readonly same: (v: number) => string;
  /** Element `index` of the unbatched value `v` (flat index). */
  readonly at: (v: number, index: string) => string;
  /** Element `index` of the current sample of the batched value `v`. */
  readonly row: (v: number, index: string) => string;
  /** The scalar source `v`. */
  readonly scalar: (v: number) => string;
  /** The output element's index within its sample (batched outputs). */
  readonly elem: string;
  /** The batch size, as a literal. */
  readonly batch: string;
}

/** A float literal that gpu.js and JavaScript both read as a float. */
export const lit = (x: number): string => {
  if (!Number.isFinite(x)) throw new Error(`codegen: ${x} is not a finite number`);
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** An integer literal. */
export const intLit = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new Error(`codegen: ${n} is not a safe integer`);
  return String(n);
};

/** Unit (vector) or channel (feature map) of element `e` when each channel has `hw` positions. */
export const channelOf = (e: string, hw: number): string => (hw === 1 ? e : `Math.floor((${e}) / ${intLit(hw)})`);

/** Group of element `e` under k-winners: its position (local) or 0 (global). */
export const groupOf = (e: string, op: Op): string => (op.attrs.local ? `(${e} % ${intLit(op.attrs.hw as number)})` : '0');

/** The boosted key of `x` with duty cycle `dc` and strength `s`, rounded to float32 on every backend. */
export const kwtaKey = (x: string, dc: string, s: string): string => `Math.fround(${x} * Math.fround(Math.exp(0.0 - ${s} * ${dc})))`;

/**
 * The winner test of element `e` (value x) given its group's threshold, without breakTies: key >= threshold
 * (and x > 0 with relu). With breakTies the apply and gradient kernels add the tie count themselves.
 */
export const kwtaWins = (op: Op, x: string, r: Reader, e: string): string => {
  const [, thr, dc, s] = op.op === 'kwtaGrad' ? op.inputs.slice(1) : op.inputs;
  const key = kwtaKey(x, r.at(dc, channelOf(e, op.attrs.hw as number)), r.scalar(s));
  const test = `${key} >= ${r.row(thr, groupOf(e, op))}`;
  return op.attrs.relu ? `(${test} && ${x} > 0.0)` : `(${test})`;
};

/** 1 / sqrt(var + epsilon) of channel `c`, the variance being value `v` (batch normalisation). */
export const invStd = (op: Op, r: Reader, v: number, c: string): string => `(1.0 / Math.sqrt(${r.at(v, c)} + ${lit(op.attrs.epsilon as number)}))`;

/** The expression of an elementwise op given its main input's value `main`. */
export const elementwiseExpr = (op: Op, main: string, r: Reader): string => {
  const ins = op.inputs;
  switch (op.op) {
    case 'relu':
      return `(${main} > 0.0 ? ${main} : 0.0)`;
    case 'biasAdd':
      return `(${main} + ${r.at(ins[1], channelOf(r.elem, op.attrs.hw as number))})`;
    case 'reluGrad':
      return `(${r.same(ins[1])} > 0.0 ? ${main} : 0.0)`;
    case 'maskScale':
      return op.attrs.scale === 1 ? `(${main} * ${r.same(ins[1])})` : `(${main} * ${r.same(ins[1])} * ${lit(op.attrs.scale as number)})`;
    case 'scale':
      return `(${main} * ${lit(op.attrs.factor as number)})`;
    case 'add':
      return `(${main} + ${r.same(ins[1])})`;
    case 'kwtaKeys':
      return kwtaKey(main, r.at(ins[1], channelOf(r.elem, op.attrs.hw as number)), r.scalar(ins[2]));
    case 'kwtaGrad':
      if (op.attrs.breakTies) throw new Error('codegen: kwtaGrad with breakTies is a root kernel');
      return `(${kwtaWins(op, r.same(ins[1]), r, r.elem)} ? ${main} : 0.0)`;
    case 'momentum':
      return `(${r.scalar(ins[3])} * ${r.same(ins[1])} + ${main} + ${r.scalar(ins[4])} * ${r.same(ins[2])})`;
    case 'runningStat': {
      const m = op.attrs.momentum as number;
      const count = Number(r.batch) * (op.attrs.hw as number);
      const stat = r.at(ins[1], r.elem);
      const value = op.attrs.unbiased && count > 1 ? `(${stat} * ${lit(count)} / ${lit(count - 1)})` : stat;
      return `(${lit(1 - m)} * ${main} + ${lit(m)} * ${value})`;
    }
    case 'normalize': {
      const hw = op.attrs.hw as number;
      const c = channelOf(r.elem, hw);
      const xhat = `((${main} - ${r.at(ins[1], c)}) * ${invStd(op, r, ins[2], c)})`;
      return op.attrs.affine ? `(${xhat} * ${r.at(ins[3], c)} + ${r.at(ins[4], c)})` : xhat;
    }
    case 'normalizeGradX': {
      const hw = op.attrs.hw as number;
      const c = channelOf(r.elem, hw);
      const is = invStd(op, r, ins[3], c);
      const scale = op.attrs.affine ? `(${r.at(ins[4], c)} * ${is})` : is;
      if (!op.attrs.batchStats) return `(${scale} * ${main})`;
      const count = lit(Number(r.batch) * hw);
      const [sumG, sumGXhat] = ins.slice(op.attrs.affine ? 5 : 4);
      const xhat = `((${r.same(ins[1])} - ${r.at(ins[2], c)}) * ${is})`;
      return `(${scale} * (${main} - ${r.at(sumG, c)} / ${count} - ${xhat} * (${r.at(sumGXhat, c)} / ${count})))`;
    }
    case 'sgdUpdate': {
      const w = `(${main} - ${r.scalar(ins[2])} * ${r.same(ins[1])})`;
      return ins.length > 3 ? `(${w} * ${r.same(ins[3])})` : w;
    }
    default:
      throw new Error(`codegen: ${op.op} is not elementwise`);
  }
};
