/**
 * The reference backend as a `Model`: the IR interpreter plus loss, backward and SGD.
 */
import type { Lowered } from '../../compiler/stages.ts';
import { shapeSize } from '../../dsl/shape.ts';
import type { Model } from '../backend.ts';
import { inferenceBatchFor } from '../evaluate.ts';
import { sgdStep } from '../optimizer.ts';
import { Rng } from '../rng.ts';
import { backward, firstNonFinite, forward } from './executor.ts';
import { softmaxCrossEntropyLoss } from './kernels/elementwise.ts';
import { allocFloat, decayBoostStrengths, type ModelState } from '../model-state.ts';

/** A model that runs on the reference backend. */
export const createReferenceModel = (lowered: Lowered, state: ModelState): Model => {
  const ops = lowered.ir.ops;
  const classes = shapeSize(ops[lowered.ir.output].shape!);
  const inputSize = shapeSize(lowered.ir.inputShape);
  const activations = ops.filter((o) => o.batched).reduce((a, o) => a + shapeSize(o.shape!), 0);
  const inferenceRng = Rng.fromSeed(0, 99); // inference draws nothing; kernels still get a stream
  const alloc = (n: number) => allocFloat(state.dtype, n);
  return {
    backend: 'reference',
    lowered,
    state,
    classes,
    inputSize,
    inferenceBatch: inferenceBatchFor(activations * 2),
    predict: (x, batch) => forward(lowered, state, x, batch, { training: false, rng: inferenceRng, samplesSeen: 0 }).output,
    trainStep: (x, labels, batch, sgd, samplesSeen, rng) => {
      const pass = forward(lowered, state, x, batch, { training: true, rng, samplesSeen });
      const { loss, dLogits, correct } = softmaxCrossEntropyLoss(pass.output, labels, batch, classes, alloc);
      if (!Number.isFinite(loss)) {
        const op = firstNonFinite(lowered, pass);
        const where = op ? `layer ${op.layer} (${lowered.network.layers[op.layer!].kind})` : 'the loss itself';
        return { loss, correct, nonFinite: where };
      }
      sgdStep(state, backward(lowered, state, pass, dLogits), sgd);
      return { loss, correct };
    },
    endEpoch: async () => decayBoostStrengths(lowered, state),
  };
};
