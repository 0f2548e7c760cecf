/**
 * Checking what the editor holds. A model file's text goes through `JSON.parse` and the model
 * codec (`decodeModel`), so a bad file shows every problem with its JSON path, the same lines
 * `winnow inspect` prints; a DSL snippet arrives here already turned into a model file's JSON
 * (dsl-snippet.ts). A valid model must also be an MNIST classifier (784 input values, a
 * softmaxCrossEntropy head with 10 logits), as `winnow train` requires, and it is traced and
 * lowered at once so that its summary (k per layer, parameters) can be shown.
 *
 * @example
 * import { checkModelText } from './model-source.ts';
 * const r = checkModelText('{ "input": [784], "layers": [{ "dense": { "units": 0 } }] }');
 * // { ok: false, problems: ['layers[0].dense.units: must be a positive integer, got 0'] }
 */
import * as E from 'fp-ts/lib/Either.js';
import { lower, summarize, trace, type Lowered, type Summary } from '../../compiler/index.ts';
import { isWinnowError } from '../../dsl/errors.ts';
import { decodeModel } from '../../dsl/model-file.ts';
import type { Network } from '../../dsl/network.ts';

/** A model the page can train. */
export interface CheckedModel {
  /** The model file's JSON as written (controls edit it), or the snippet's canonical JSON. */
  readonly json: unknown;
  readonly network: Network;
  readonly lowered: Lowered;
  readonly summary: Summary;
}

/** The outcome of a check: the model, or every problem (one line each). */
export type Check = { readonly ok: true; readonly model: CheckedModel } | { readonly ok: false; readonly problems: ReadonlyArray<string> };

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/** What MNIST training needs of a network (the messages `winnow train` gives), or undefined. */
export const mnistProblem = (network: Network): string | undefined => {
  if (network.last !== 'softmaxCrossEntropy') return 'the model must end with a softmaxCrossEntropy head to be trained';
  if (network.input.reduce((a, b) => a * b, 1) !== 784) return `MNIST images have 784 values; the model's input [${network.input.join(', ')}] does not (use [784] or [1, 28, 28])`;
  if (network.shapes[network.shapes.length - 1][0] !== 10) return 'MNIST has 10 classes; the model must output 10 logits';
  return undefined;
};

/** Checks a model file's parsed JSON. */
export const checkModelJSON = (json: unknown): Check => {
  const decoded = decodeModel(json);
  if (E.isLeft(decoded)) return { ok: false, problems: decoded.left };
  const network = decoded.right;
  const problem = mnistProblem(network);
  if (problem) return { ok: false, problems: [problem] };
  try {
    const lowered = lower(trace(network));
    return { ok: true, model: { json, network, lowered, summary: summarize(lowered) } };
  } catch (e) {
    return { ok: false, problems: [isWinnowError(e) ? oneLine(e) : `the compiler failed: ${oneLine(e)}`] };
  }
};

/** Checks a model file's text: JSON syntax first (one line), then `checkModelJSON`. */
export const checkModelText = (text: string): Check => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`JSON: ${oneLine(e)}`] };
  }
  return checkModelJSON(json);
};
