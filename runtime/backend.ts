/**
 * What every execution backend provides to the runtime: a model that classifies batches and
 * takes training steps on a `ModelState` it shares with checkpoints. The reference backend is the
 * first; later backends (generated CPU code, gpu.js kernels) implement the same interface and are
 * tested against it.
 *
 * @example
 * import { createModel } from 'winnow/runtime/backend';
 * // const model = createModel('reference', lowered, state);
 * // const { loss } = model.trainStep(x, labels, 64, { lr: 0.01, momentum: 0.9, weightDecay: 0 }, 64);
 */
import type { Lowered } from '../compiler/stages.ts';
import { WinnowError } from '../dsl/errors.ts';
import type { Classifier } from './evaluate.ts';
import type { ModelState } from './model-state.ts';
import type { SgdSettings } from './optimizer.ts';
import { createReferenceModel } from './reference/model.ts';
import type { Rng } from './rng.ts';

/** One training step's outcome. */
export interface StepResult {
  /** Mean loss over the batch (before the step). */
  readonly loss: number;
  /** Correct predictions in the batch (before the step). */
  readonly correct: number;
  /** When the loss is not finite: the first layer whose output went non-finite; no step was taken. */
  readonly nonFinite?: string;
}

/** A compiled, stateful model on some backend. */
export interface Model extends Classifier {
  readonly backend: string;
  readonly lowered: Lowered;
  readonly state: ModelState;
  /**
   * Forward, loss, backward and one optimizer step on a batch; `samplesSeen` counts training
   * samples including this batch (duty cycles); `rng` drives dropout and DropConnect.
   */
  readonly trainStep: (x: Float32Array, labels: Uint8Array, batch: number, sgd: SgdSettings, samplesSeen: number, rng: Rng) => StepResult;
}

/** Backends this build knows. */
export const backendNames = ['reference'] as const;
export type BackendName = (typeof backendNames)[number];

/** Creates a model on a backend, or says clearly why it cannot. */
export const createModel = (backend: string, lowered: Lowered, state: ModelState): Model => {
  switch (backend) {
    case 'reference':
      return createReferenceModel(lowered, state);
    default:
      throw new WinnowError('backend', `backend ${JSON.stringify(backend)} is not available (available: ${backendNames.join(', ')})`);
  }
};
