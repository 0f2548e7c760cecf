/**
 * Pass `decompose`: rewrites every layer op into primitives with the op's own decomposition rule
 * (`decompose` in `compiler/ops/<op>.ts`), for a training step or for inference. Training-time
 * state writes (duty cycles) become the program's `updates`.
 */
import type { IR } from '../../ir.ts';
import { opDef } from '../../ops/index.ts';
import type { DecomposeContext } from '../../ops/op-def.ts';
import { builder, finish } from '../emitter.ts';

/** The decomposition pass for a training step (`training`) or inference. */
export const decompose = (training: boolean) => (ir: IR): IR => {
  const b = builder();
  const ids = new Map<number, number>();
  const scalars = new Map<string, number>();
  const updates: Array<{ source: number; value: number }> = [];
  const ctx: DecomposeContext = {
    ...b,
    training,
    scalar: (role) => {
      if (!scalars.has(role)) scalars.set(role, b.emit('scalar', [], { role }, { shape: [1], batched: false }));
      return scalars.get(role)!;
    },
    update: (source, value) => updates.push({ source, value }),
  };
  for (const op of ir.ops) {
    const inputs = op.inputs.map((i) => ids.get(i)!);
    if (op.inputs.length === 0) {
      ids.set(op.id, b.emit(op.op, [], op.attrs, { shape: op.shape, batched: op.batched, ...(op.layer !== undefined ? { layer: op.layer } : {}) }));
      continue;
    }
    const rule = opDef(op.op).decompose;
    if (!rule) throw new Error(`decompose: ${op.op} has no decomposition rule`);
    ids.set(op.id, rule(op, inputs, ctx));
  }
  return finish(b, ir, ids.get(ir.output)!, {}, updates);
};
