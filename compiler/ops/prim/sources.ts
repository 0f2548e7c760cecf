/**
 * Source primitives of programs: labels, hyperparameter scalars, host-drawn random keep-masks
 * (dropout, DropConnect: drawn from the seeded stream in program order, so every backend sees the
 * reference's masks), sparse-weight masks and optimizer momentum buffers.
 */
import { ownShape, type OpDef } from '../op-def.ts';

/** `labels`: the batch's class labels (i32, one per sample). */
export const labelsOp: OpDef = { name: 'labels', arity: [0, 0], attrs: {}, inferShape: ownShape };

/** `scalar`: a number the host passes per call (learning rate, momentum, weight decay, samples seen). */
export const scalarOp: OpDef = { name: 'scalar', arity: [0, 0], attrs: { role: ['lr', 'momentum', 'weightDecay', 'samplesSeen'] }, inferShape: ownShape };

/** `random`: a keep-mask (1 with probability 1 - rate), drawn by the host per call in program order. */
export const randomOp: OpDef = { name: 'random', arity: [0, 0], attrs: { rate: 'number', role: ['dropout', 'dropconnect'] }, inferShape: ownShape };

/** `mask`: a sparse weight's fixed mask (1 = kept; `kept` per unit, the layer's keptPerUnit). */
export const maskOp: OpDef = { name: 'mask', arity: [0, 0], attrs: { role: ['weight'], 'kept?': 'int' }, inferShape: ownShape };

/** `moment`: a parameter's SGD momentum buffer. */
export const momentOp: OpDef = { name: 'moment', arity: [0, 0], attrs: { role: ['weight', 'bias', 'gamma', 'beta'] }, inferShape: ownShape };
