/**
 * A per-layer summary of a lowered network: what `winnow inspect` prints.
 *
 * @example
 * import { trace, lower, summarize } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * summarize(lower(trace(readModelFile('examples/models/sparse-cnn2.json')))).totals; // { params: 776606, nonzeroParams: 274706 }
 */
import type { Layer } from '../dsl/layer.ts';
import type { Shape } from '../dsl/shape.ts';
import type { Lowered } from './stages.ts';

/**
 * One layer's row.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, boost } from 'winnow/dsl';
 * import { trace, lower, summarize, type LayerSummary } from 'winnow/compiler';
 * const row: LayerSummary = summarize(lower(trace(pipe(input([784]), dense(100), kwta({ k: 10 }), boost({}))))).layers[1];
 * // { index: 1, kind: 'kwta', outputShape: [100], params: 0, nonzeroParams: 0, k: 10, kInference: 15, n: 100, groups: 1,
 * //   boost: { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 } }
 */
export interface LayerSummary {
  readonly index: number;
  readonly kind: Layer['kind'];
  readonly outputShape: Shape;
  readonly params: number;
  readonly nonzeroParams: number;
  /** Fraction of weights kept (layers with weights). */
  readonly weightDensity?: number;
  /** Winners at training and at inference (k-winners layers). */
  readonly k?: number;
  readonly kInference?: number;
  /** Units competing per group and the number of groups (k-winners layers). */
  readonly n?: number;
  readonly groups?: number;
  readonly boost?: { readonly strength: number; readonly strengthFactor: number; readonly dutyCyclePeriod: number };
}

/**
 * The whole summary: one row per network layer, and the totals over them.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, lower, summarize, type Summary } from 'winnow/compiler';
 * const summary: Summary = summarize(lower(trace(pipe(input([784]), dense(100), relu, dense(10), softmaxCrossEntropy))));
 * summary.layers.map((l) => l.kind); // ['dense', 'relu', 'dense', 'softmaxCrossEntropy']
 * summary.totals; // { params: 79510, nonzeroParams: 79510 }
 */
export interface Summary {
  readonly layers: ReadonlyArray<LayerSummary>;
  readonly totals: { readonly params: number; readonly nonzeroParams: number };
}

/**
 * Summarises a lowered network layer by layer (from the IR's accounted layer ops).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse, kwta, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, lower, summarize } from 'winnow/compiler';
 * const s = summarize(lower(trace(pipe(input([784]), dense(100), sparse(0.5), kwta({ k: 10 }), dense(10), softmaxCrossEntropy))));
 * s.layers[0].nonzeroParams; // 39300 (100 units x 392 kept inputs + 100 biases)
 * s.totals; // { params: 79510, nonzeroParams: 40310 }
 */
export const summarize = (lowered: Lowered): Summary => {
  const { ir, network } = lowered;
  const layers = network.layers.map((layer, index): LayerSummary => {
    const op = ir.ops.find((o) => o.batched && o.layer === index && o.op !== 'input');
    if (!op || !op.shape) throw new Error(`summarize: no op for layer ${index}`);
    const base = {
      index,
      kind: layer.kind,
      outputShape: op.shape,
      params: op.notes?.params ?? 0,
      nonzeroParams: op.notes?.nonzeroParams ?? 0,
    };
    if (layer.kind === 'dense' || layer.kind === 'conv2d') return { ...base, weightDensity: layer.weightDensity };
    if (layer.kind === 'kwta') {
      return {
        ...base,
        k: op.attrs.k as number,
        kInference: op.attrs.kInference as number,
        n: op.attrs.n as number,
        groups: op.attrs.groups as number,
        ...(layer.boost ? { boost: { ...layer.boost } } : {}),
      };
    }
    return base;
  });
  return {
    layers,
    totals: {
      params: layers.reduce((a, l) => a + l.params, 0),
      nonzeroParams: layers.reduce((a, l) => a + l.nonzeroParams, 0),
    },
  };
};
