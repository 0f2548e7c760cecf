/**
 * `flatten`: a reshape to a vector (same memory).
 */
import { flattenRule } from '../../dsl/flatten.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `flatten` op. */
export const flattenOp: OpDef = { name: 'flatten', arity: [1, 1], attrs: {}, inferShape: layerShape('flatten', flattenRule),
  /** A reshape: values are stored flat per sample, so the output is the input itself. */
  decompose: (_op, [x]) => x,
};
