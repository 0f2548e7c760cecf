/**
 * SGD primitives (PyTorch semantics, dampening 0): `momentum` gives buf' = mu * buf + g + wd * w,
 * fusable into the kernel producing the gradient g; `sgdUpdate` gives w' = (w - lr * buf') * mask,
 * which re-zeroes a sparse weight's masked entries after every step.
 */
import { sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `momentum(g, buf, w, mu, wd)`. */
export const momentumOp: OpDef = { name: 'momentum', arity: [5, 5], attrs: {}, elementwise: { main: 0 }, inferShape: sameAs(2) };

/** `sgdUpdate(w, buf', lr, mask?)`. */
export const sgdUpdateOp: OpDef = { name: 'sgdUpdate', arity: [3, 4], attrs: {}, elementwise: { main: 0 }, inferShape: sameAs(0) };
