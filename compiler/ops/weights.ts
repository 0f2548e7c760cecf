/**
 * What `dense` and `conv2d` share: the weight attributes and the checks of their weight and bias
 * shapes against the input.
 */
import type { Shape } from '../../dsl/shape.ts';
import type { Op } from '../ir.ts';
import { expectShape, type DecomposeContext } from './op-def.ts';

/**
 * The weight a dense or conv layer computes with: W; under DropConnect, W times a fresh host-drawn
 * keep-mask at training and W x (1 - rate) at inference. A sparse weight also gets its `mask`
 * source, which the optimizer pass uses to re-zero it after every step.
 */
export const effectiveWeight = (op: Op, w: number, ctx: DecomposeContext): number => {
  const a = op.attrs as { dropconnect: number; keptPerUnit: number; fanIn: number };
  const wOp = ctx.op(w);
  if (a.keptPerUnit < a.fanIn) ctx.emit('mask', [], { role: 'weight', kept: a.keptPerUnit }, { shape: wOp.shape, batched: false, layer: op.layer });
  if (!(a.dropconnect > 0)) return w;
  if (!ctx.training) return ctx.emit('scale', [w], { factor: 1 - a.dropconnect }, { batched: false, layer: op.layer });
  const keep = ctx.emit('random', [], { rate: a.dropconnect, role: 'dropconnect' }, { shape: wOp.shape, batched: false, layer: op.layer });
  return ctx.emit('maskScale', [w, keep], { scale: 1 }, { batched: false, layer: op.layer });
};

/** Attributes of ops with a weight tensor. */
export const weightAttrs = { weightDensity: 'number', dropconnect: 'number', keptPerUnit: 'int', fanIn: 'int' } as const;

/** Problems with a weighted op's fanIn attribute, weight shape and bias shape. */
export const weightChecks = (units: number, fanIn: number, wShape: Shape, hasBias: boolean, inputs: ReadonlyArray<{ shape?: Shape }>, opFanIn: number): string[] => [
  ...(fanIn !== opFanIn ? [`fanIn attribute ${opFanIn} does not match the input's ${fanIn}`] : []),
  ...expectShape('weight', inputs[1].shape, wShape),
  ...(hasBias ? expectShape('bias', inputs[2].shape, [units]) : []),
];
