/**
 * Pass `optimizer`: the SGD step as part of the graph. For every parameter with a gradient: its
 * momentum buffer (`moment` source), `momentum` (buf' = mu buf + g + wd w) and `sgdUpdate`
 * (w' = (w - lr buf') x mask, the mask re-zeroing sparse weights), both written back as updates.
 * The gradients stop being results.
 *
 * A sparse weight's momentum buffer is masked too: buf' = (mu buf + g + wd w) x mask (a
 * `maskScale` after `momentum`, fused into the same kernel). W's trajectory is the same either way
 * (its masked entries are re-zeroed), but the buffer then holds 0 at the masked entries whatever
 * form computed the gradient: the index-list form (`linearIdxGradW`, `./sparse-forms.ts`) gives
 * 0 there, the dense `linearGradW` the true gradient, and every backend (the reference's
 * `sgdStep` too) stores the same buffer.
 */
import type { IR, Op } from '../../ir.ts';
import { builder, finish } from '../emitter.ts';
import { gradResult } from './autodiff.ts';

/** The optimizer pass. */
export const optimizer = (ir: IR): IR => {
  const b = builder(ir.ops);
  const find = (pred: (o: Op) => boolean) => ir.ops.find(pred)?.id;
  const scalar = (role: string) => find((o) => o.op === 'scalar' && o.attrs.role === role) ?? b.emit('scalar', [], { role }, { shape: [1], batched: false });
  const lr = scalar('lr');
  const mu = scalar('momentum');
  const wd = scalar('weightDecay');
  const updates = [...(ir.updates ?? [])];
  const results: Record<string, number> = {};
  for (const [name, id] of Object.entries(ir.results ?? {})) if (!/^d\d+$/.test(name)) results[name] = id;
  for (const p of ir.ops) {
    const g = ir.results?.[gradResult(p.id)];
    if (p.op !== 'param' || g === undefined) continue;
    const at = { layer: p.layer };
    const buf = b.emit('moment', [], { role: p.attrs.role }, { shape: p.shape, batched: false, ...at });
    const mask = p.attrs.role === 'weight' ? find((o) => o.op === 'mask' && o.layer === p.layer) : undefined;
    const raw = b.emit('momentum', [g, buf, p.id, mu, wd], {}, at);
    const next = mask !== undefined ? b.emit('maskScale', [raw, mask], { scale: 1 }, at) : raw;
    const w = b.emit('sgdUpdate', [p.id, next, lr, ...(mask !== undefined ? [mask] : [])], {}, at);
    updates.push({ source: buf, value: next }, { source: p.id, value: w });
  }
  return finish(b, ir, ir.output, results, updates);
};
