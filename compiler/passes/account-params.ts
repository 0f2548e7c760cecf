/**
 * Pass `accountParams`: notes on every layer op how many parameters it owns and how many are
 * non-zero after the sparse-weight mask (each unit keeps `keptPerUnit` inputs).
 */
import { shapeSize } from '../../dsl/shape.ts';
import type { IR, Op } from '../ir.ts';

/** Annotates layer ops with `params` and `nonzeroParams`. */
export const accountParams = (ir: IR): IR => ({
  ...ir,
  ops: ir.ops.map((op): Op => {
    const params = op.inputs.map((i) => ir.ops[i]).filter((o) => o.op === 'param');
    if (op.layer === undefined || !op.batched || params.length === 0) return op;
    let total = 0;
    let nonzero = 0;
    for (const p of params) {
      const size = shapeSize(p.shape ?? []);
      total += size;
      nonzero += p.attrs.role === 'weight' ? (p.shape![0] as number) * (op.attrs.keptPerUnit as number) : size;
    }
    return { ...op, notes: { ...op.notes, params: total, nonzeroParams: nonzero } };
  }),
});
