/**
 * `relu`: max(x, 0).
 */
import { reluRule } from '../../dsl/relu.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `relu` op. */
export const reluOp: OpDef = { name: 'relu', arity: [1, 1], attrs: {}, inferShape: layerShape('relu', reluRule) };
