/**
 * `softmaxCrossEntropy`: the head; passes logits through (the loss is taken in training).
 */
import { softmaxCrossEntropyRule } from '../../dsl/softmax-cross-entropy.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `softmaxCrossEntropy` op. */
export const softmaxCrossEntropyOp: OpDef = {
  name: 'softmaxCrossEntropy',
  arity: [1, 1],
  attrs: {},
  inferShape: layerShape('softmaxCrossEntropy', softmaxCrossEntropyRule),
  /** The logits pass through; the loss and its gradient are added by the `autodiff` pass. */
  decompose: (_op, [x]) => x,
};
