/**
 * Source ops: the graph input, parameters (weights, biases, batch-norm scale and shift) and layer
 * state (duty cycles, boost strengths, running statistics). Their shapes are set when traced.
 */
import { ownShape, type OpDef } from './op-def.ts';

/** `input`: the batch of samples. */
export const inputOp: OpDef = { name: 'input', arity: [0, 0], attrs: {}, inferShape: ownShape };

/** `param`: a trained tensor, with how it is initialised. */
export const paramOp: OpDef = {
  name: 'param',
  arity: [0, 0],
  attrs: { role: ['weight', 'bias', 'gamma', 'beta'], init: ['uniform', 'ones', 'zeros'], 'bound?': 'number', 'layer?': 'int' },
  inferShape: ownShape,
};

/** `state`: a tensor updated by training but not by the optimizer. */
export const stateOp: OpDef = {
  name: 'state',
  arity: [0, 0],
  attrs: { role: ['dutyCycle', 'boostStrength', 'runningMean', 'runningVar'], init: 'number' },
  inferShape: ownShape,
};
