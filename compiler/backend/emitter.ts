/**
 * An IR under construction: appends ops with their shapes inferred at once (each op's own shape
 * rule) and their batchedness from their definition. Used by the back end's passes, which all
 * build a new IR rather than edit one.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { AttrValue, IR, Op, OpName } from '../ir.ts';
import { opDef } from '../ops/index.ts';
import type { Emitter } from '../ops/op-def.ts';
import { IRError } from '../verify.ts';

/** A growing op list. */
export interface Builder extends Emitter {
  readonly ops: Op[];
}

/** A builder starting from `ops` (copied). */
export const builder = (start: ReadonlyArray<Op> = []): Builder => {
  const ops = [...start];
  const emit: Emitter['emit'] = (name: OpName, inputs, attrs: Readonly<Record<string, AttrValue>> = {}, extra = {}) => {
    const def = opDef(name);
    const id = ops.length;
    const ins = inputs.map((i) => ops[i]);
    const batched = extra.batched ?? (def.arity[1] === 0 || def.absolute ? false : def.elementwise ? ins[def.elementwise.main].batched : true);
    const draft: Op = { id, op: name, inputs: [...inputs], attrs, dtype: extra.dtype ?? 'f32', batched, ...(extra.layer !== undefined ? { layer: extra.layer } : {}), ...(extra.shape ? { shape: extra.shape } : {}) };
    const shape = def.inferShape(draft, ins);
    if (E.isLeft(shape)) throw new IRError(`emitting ${name}`, [`%${id} ${name}: ${shape.left}`]);
    ops.push({ ...draft, shape: shape.right });
    return id;
  };
  return { ops, emit, op: (id) => ops[id] };
};

/** The IR of a builder's ops with its results. */
export const finish = (b: Builder, base: IR, output: number, results: IR['results'], updates: IR['updates']): IR => ({
  ops: b.ops,
  output,
  inputShape: base.inputShape,
  ...(results && Object.keys(results).length ? { results } : {}),
  ...(updates && updates.length ? { updates } : {}),
});
