/**
 * Sparse CNN-2 of "How Can We Be So Dense?" (Ahmad & Scheinkman, 2019), written with the DSL.
 * The same network as examples/models/sparse-cnn2.json:
 *   winnow inspect examples/networks/sparse-cnn2.ts
 */
import { pipe } from 'fp-ts/lib/function.js';
import { boost, conv2d, dense, flatten, input, kwta, maxPool2d, named, softmaxCrossEntropy, sparse, withTraining } from 'winnow/dsl';

const paperBoost = boost({ strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 });

export default pipe(
  input([1, 28, 28]),
  conv2d({ filters: 32, kernel: 5 }), maxPool2d(2), kwta({ k: 400 }), paperBoost,
  conv2d({ filters: 64, kernel: 5 }), maxPool2d(2), kwta({ k: 300 }), paperBoost,
  flatten,
  dense(700), sparse(0.3), kwta({ k: 100 }), paperBoost,
  dense(10),
  softmaxCrossEntropy,
  named('sparse_cnn2'),
  withTraining({ epochs: 10, batchSize: 64, firstEpochBatchSize: 4, lr: 0.02, lrGamma: 0.8, momentum: 0, weightDecay: 0 }),
);
