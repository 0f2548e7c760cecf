/**
 * Models the playground starts from: small ones that train in seconds in a page (a model file and
 * the same network as a DSL snippet, and a tiny one for software renderers), and winnow's example
 * model files (examples/models/, bundled into the page: the full-size ones train slowly here).
 *
 * @example
 * import { presets } from './presets.ts';
 * presets[0].kind; // 'json'
 */
import denseCnn1 from '../../examples/models/dense-cnn1.json' with { type: 'json' };
import denseCnn2Dropout from '../../examples/models/dense-cnn2-dropout.json' with { type: 'json' };
import denseCnn2 from '../../examples/models/dense-cnn2.json' with { type: 'json' };
import denseMlp from '../../examples/models/dense-mlp.json' with { type: 'json' };
import dropoutMlp from '../../examples/models/dropout-mlp.json' with { type: 'json' };
import sparseCnn1 from '../../examples/models/sparse-cnn1.json' with { type: 'json' };
import sparseCnn2 from '../../examples/models/sparse-cnn2.json' with { type: 'json' };
import sparseMlp from '../../examples/models/sparse-mlp.json' with { type: 'json' };

/** A model to start from. */
export interface Preset {
  readonly id: string;
  readonly label: string;
  readonly kind: 'json' | 'dsl';
  readonly text: string;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

const smallSparseMlp = {
  format: 'winnow.model/1',
  name: 'small_sparse_mlp',
  description: 'Sparse MLP 784-256-256-10: hidden layers keep 50% of their weights and 10% of their units on, with boosting.',
  input: [784],
  layers: [
    { dense: { units: 256, weightDensity: 0.5 } },
    { kwta: { percentOn: 0.1, boost: { strength: 1.5, strengthFactor: 0.85 } } },
    { dense: { units: 256, weightDensity: 0.5 } },
    { kwta: { percentOn: 0.1, boost: { strength: 1.5, strengthFactor: 0.85 } } },
    { dense: { units: 10 } },
    { softmaxCrossEntropy: {} },
  ],
  training: { epochs: 2, batchSize: 64, lr: 0.03, lrGamma: 0.8, momentum: 0.9 },
};

const tinyKwtaMlp = {
  format: 'winnow.model/1',
  name: 'tiny_kwta_mlp',
  description: 'k-winners MLP 784-64-10: small enough for a software WebGL2 (SwiftShader).',
  input: [784],
  layers: [
    { dense: { units: 64 } },
    { kwta: { percentOn: 0.1, boost: { strength: 1.5, strengthFactor: 0.85 } } },
    { dense: { units: 10 } },
    { softmaxCrossEntropy: {} },
  ],
  training: { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9 },
};

const smallSparseMlpDsl = `// A DSL snippet: the DSL is in scope (pipe, input, dense, sparse, kwta, boost, dropout, ...).
pipe(
  input([784]),
  dense(256), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5, strengthFactor: 0.85 }),
  dense(256), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5, strengthFactor: 0.85 }),
  dense(10), softmaxCrossEntropy,
  named('small_sparse_mlp'),
  withTraining({ epochs: 2, batchSize: 64, lr: 0.03, lrGamma: 0.8, momentum: 0.9 }),
)
`;

const examples: ReadonlyArray<readonly [string, unknown]> = [
  ['sparse-mlp', sparseMlp], ['dense-mlp', denseMlp], ['dropout-mlp', dropoutMlp],
  ['sparse-cnn1', sparseCnn1], ['sparse-cnn2', sparseCnn2], ['dense-cnn1', denseCnn1], ['dense-cnn2', denseCnn2], ['dense-cnn2-dropout', denseCnn2Dropout],
];

/** Every preset; the first is the page's default. */
export const presets: ReadonlyArray<Preset> = [
  { id: 'small-sparse-mlp', label: 'Small sparse MLP 784-256-256-10 (model file)', kind: 'json', text: json(smallSparseMlp) },
  { id: 'small-sparse-mlp-dsl', label: 'Small sparse MLP 784-256-256-10 (DSL snippet)', kind: 'dsl', text: smallSparseMlpDsl },
  { id: 'tiny-kwta-mlp', label: 'Tiny k-winners MLP 784-64-10 (for software GPUs)', kind: 'json', text: json(tinyKwtaMlp) },
  ...examples.map(([name, value]): Preset => ({ id: name, label: `examples/models/${name}.json (full size: slow in a page)`, kind: 'json', text: json(value) })),
];
