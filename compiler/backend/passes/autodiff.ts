/**
 * Pass `autodiff`: reverse-mode differentiation of a decomposed training graph. Adds the loss
 * head (softmax cross-entropy against the `labels` source: `xentGrad` and `xentStats`), then walks
 * the ops backwards, calling each primitive's gradient rule (`grad` in `compiler/ops/prim/`) for
 * the inputs that depend on a parameter, and summing gradients with `add` where a value has
 * several consumers. Each parameter's gradient becomes a result named `d<param id>`.
 */
import type { IR } from '../../ir.ts';
import { isSource, opDef } from '../../ops/index.ts';
import { size } from '../../ops/prim/helpers.ts';
import { builder, finish } from '../emitter.ts';

/** Result name of the gradient of parameter `%id`. */
export const gradResult = (id: number): string => `d${id}`;

/** The autodiff pass. */
export const autodiff = (ir: IR): IR => {
  const b = builder(ir.ops);
  const n = ir.ops.length;
  const needs = new Array<boolean>(n).fill(false);
  for (const op of ir.ops) needs[op.id] = op.op === 'param' || (!isSource(op.op) && op.inputs.some((i) => needs[i]));
  const labels = b.emit('labels', [], {}, { shape: [1], batched: true, dtype: 'i32' });
  const classes = size(ir.ops[ir.output].shape!);
  const stats = b.emit('xentStats', [ir.output, labels], { classes });
  const grads = new Map<number, number>([[ir.output, b.emit('xentGrad', [ir.output, labels], { classes })]]);
  for (let id = n - 1; id >= 0; id--) {
    const op = ir.ops[id];
    const g = grads.get(id);
    if (g === undefined || isSource(op.op)) continue;
    const rule = opDef(op.op).grad;
    if (!rule) throw new Error(`autodiff: ${op.op} has no gradient rule`);
    const inputGrads = rule(op, g, b, op.inputs.map((i) => needs[i]));
    op.inputs.forEach((input, j) => {
      const gi = inputGrads[j];
      if (gi === undefined || !needs[input]) return;
      const prev = grads.get(input);
      grads.set(input, prev === undefined ? gi : b.emit('add', [prev, gi]));
    });
  }
  const results: Record<string, number> = { ...ir.results, stats };
  for (const op of ir.ops) if (op.op === 'param' && grads.has(op.id)) results[gradResult(op.id)] = grads.get(op.id)!;
  return finish(b, ir, ir.output, results, ir.updates);
};
