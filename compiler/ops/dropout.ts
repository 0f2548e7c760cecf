/**
 * `dropout`: inverted dropout at training, identity at inference.
 */
import { dropoutRule } from '../../dsl/dropout.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `dropout` op. */
export const dropoutOp: OpDef = { name: 'dropout', arity: [1, 1], attrs: { rate: 'number' }, inferShape: layerShape('dropout', dropoutRule) };
