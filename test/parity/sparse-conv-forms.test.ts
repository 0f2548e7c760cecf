/**
 * The convolution sparse forms on the cpu backend (pass `sparseForms` with
 * compiler/backend/passes/sparse-conv-forms.ts, kernels in compiler/codegen/js/sparse-conv.ts)
 * against the float64 reference, on networks that reach every path: a compact k-winners layer
 * between two convolutions (the second with stride 2 and padding, its input gradient at the
 * winners from a compact gradient, its weight gradient from a padded channel-last input), a
 * k-winners layer right after a convolution (bias gradient per channel, weight gradient from the
 * raw one-channel input), a first-layer convolution skipping its input's background, a compact
 * layer followed by a dense one (the dense input gradient picked at the winners, the compact input
 * expanded for the dense weight gradient), a compact gradient leaving through a ReLU (the
 * scatter's dense output with the ReLU gradient fused), and a convolution wide enough that the
 * scatter loops instead of unrolling. Max-pooling after a convolution is done by the convolution's
 * kernel here (absorbed), in both scatter forms and on the dense core. Each network runs with every compact form
 * forced (`mode: 'always'`) and as the cost model chooses: training steps, inference (k x
 * kInferenceFactor winners) and the updated state within 1e-4 of the oracle, and two threads give
 * the same bytes as one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile, lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { boost, conv2d, dense, flatten, input, kwta, maxPool2d, pipe, readModelFile, relu, softmaxCrossEntropy } from '../../dsl/index.ts';
import { createModel, type Model } from '../../runtime/backends.ts';
import { createCpuModel, type CpuModel } from '../../runtime/cpu/model.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, stepsThenInference, expectTwoThreadsBytesOfOne, expectNearOracle } from './helpers.ts';

const batch = 6;
const labels = Uint8Array.of(1, 4, 9, 0, 3, 7);
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };

/** Images mostly at one background value (-0.5), like normalised digits. */
const images = (per: number): Float32Array => {
  const rng = Rng.fromSeed(21, 1);
  return Float32Array.from({ length: batch * per }, () => (rng.float() < 0.3 ? rng.float() * 2 - 0.5 : -0.5));
};

interface Case {
  readonly name: string;
  readonly lowered: Lowered;
  readonly x: Float32Array;
}

const cases: ReadonlyArray<Case> = [
  {
    name: 'k-winners between convolutions, the second with stride 2 and padding 1',
    lowered: lower(trace(pipe(input([2, 9, 10]), conv2d({ filters: 4, kernel: 3, padding: 1 }), maxPool2d(2), kwta({ k: 10 }), boost({}), conv2d({ filters: 5, kernel: 3, stride: 2, padding: 1 }), maxPool2d(2), kwta({ k: 3 }), boost({}), flatten, dense(10), softmaxCrossEntropy))),
    x: images(2 * 9 * 10),
  },
  {
    name: 'a background-skipping first convolution with k-winners right after it',
    lowered: lower(trace(pipe(input([1, 12, 11]), conv2d({ filters: 6, kernel: 5 }), kwta({ k: 30 }), boost({ strength: 2 }), flatten, dense(10), softmaxCrossEntropy))),
    x: images(132),
  },
  {
    name: 'k-winners before a padded convolution whose own gradient stays dense (ReLU after it)',
    lowered: lower(trace(pipe(input([2, 8, 8]), conv2d({ filters: 4, kernel: 3 }), kwta({ k: 20 }), boost({}), conv2d({ filters: 3, kernel: 3, padding: 1 }), relu, flatten, dense(10), softmaxCrossEntropy))),
    x: images(128),
  },
  {
    name: 'no k-winners: max-pooling gradients (one element per window) compact, 3x3 pooling dropping an edge row',
    lowered: lower(trace(pipe(input([2, 11, 10]), conv2d({ filters: 4, kernel: 3 }), maxPool2d(2), relu, conv2d({ filters: 5, kernel: 2, padding: 1 }), maxPool2d(3), flatten, dense(10), softmaxCrossEntropy))),
    x: images(220),
  },
  {
    name: 'a wide first convolution (170 filters: the scatter loops over its rows, a filter remainder) with k-winners and pooling after it',
    lowered: lower(trace(pipe(input([1, 9, 8]), conv2d({ filters: 170, kernel: 5 }), maxPool2d(2), kwta({ k: 40 }), boost({}), flatten, dense(10), softmaxCrossEntropy))),
    x: images(72),
  },
  {
    name: 'a compact gradient leaving through a ReLU layer (dense scatter output)',
    lowered: lower(trace(pipe(input([2, 10, 10]), conv2d({ filters: 3, kernel: 3, padding: 1 }), relu, conv2d({ filters: 4, kernel: 3 }), maxPool2d(2), kwta({ k: 12 }), boost({}), flatten, dense(10), softmaxCrossEntropy))),
    x: images(200),
  },
];

/** Two training steps with a prediction between, an epoch end, then an inference at another batch. */
const run = (model: Model, x: Float32Array) => stepsThenInference(model, x, labels, batch, sgd);

const opened: CpuModel[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));

describe('convolution sparse forms on the cpu backend against the float64 reference', () => {
  for (const c of cases) {
    const init = initModelState(c.lowered, { seed: 3, dtype: 'float64' });
    const oracle = createModel('reference', c.lowered, convert(init, 'float64')).then((m) => run(m, c.x));
    for (const mode of ['always', 'auto'] as const) {
      it(`${c.name} (${mode})`, async () => {
        const tested = await run(await createCpuModel(c.lowered, convert(init, 'float32'), { threads: 1, sparse: { mode } }), c.x);
        const want = await oracle;
        expectNearOracle(tested, want);
      });
    }
  }

  it('the forced compact forms reach every convolution sparse kernel, both forms of the input gradient and of the scatter', () => {
    const ops = new Set<string>();
    const variants = new Set<string>();
    for (const c of cases) {
      for (const program of ['train', 'inference'] as const) {
        for (const o of compile(c.lowered, { program, batch, sparse: { mode: 'always' } }).schedule.ir.ops) {
          ops.add(o.op);
          if (o.op === 'convGradXFrom') variants.add(`convGradXFrom:${o.inputs.length === 3 ? 'at winners' : 'dense'}`);
          if (o.op === 'convScatter') variants.add(`convScatter:base=${o.attrs.base},stride=${o.attrs.stride}`);
          if (o.op === 'channelLast') variants.add(`channelLast:${(o.attrs.cap as number) > 0 ? 'compact' : 'dense'}`);
          if (o.op === 'maxPoolGradCompact') variants.add(`maxPoolGradCompact:${(o.attrs.gCap as number) > 0 ? 'compact' : 'dense'} g`);
        }
      }
    }
    for (const op of ['convWeightT', 'convScatter', 'convGradXFrom', 'channelLast', 'convGradWFrom', 'maxPoolGradCompact', 'expand', 'pickAt', 'compactInput']) expect(ops, op).toContain(op);
    for (const v of ['convGradXFrom:at winners', 'convGradXFrom:dense', 'convScatter:base=true,stride=1', 'convScatter:base=false,stride=2', 'channelLast:compact', 'channelLast:dense', 'maxPoolGradCompact:compact g', 'maxPoolGradCompact:dense g']) {
      expect(variants, v).toContain(v);
    }
  });

  it('the example CNNs: the cost model compacts every k-winners layer and pooling gradient and says why', () => {
    for (const name of ['sparse-cnn1', 'sparse-cnn2']) {
      const forms = compile(lower(trace(readModelFile(`examples/models/${name}.json`))), { program: 'train', batch: 64, sparse: {} }).forms!;
      const kwtas = forms.filter((f) => f.subject === 'kwta');
      expect(kwtas.length).toBeGreaterThan(0);
      for (const f of kwtas) {
        expect(f.form, f.why).toBe('compact');
        expect(f.compactCost).toBeLessThan(f.denseCost);
      }
    }
    const cnn2 = compile(lower(trace(readModelFile('examples/models/sparse-cnn2.json'))), { program: 'train', batch: 64, sparse: {} }).forms!;
    expect(cnn2.find((f) => f.layer === 2)!.why).toMatch(/^k-winners layer 2 \(400 of 4608, 8\.7% active\): compact: winners as index lists, the next convolution scatters each winner through its filter taps: \d+k vs \d+k dense/);
    // without k-winners layers, the pooling gradients are compact (one element per 2x2 window reaches each convolution)
    const dense2 = compile(lower(trace(readModelFile('examples/models/dense-cnn2.json'))), { program: 'train', batch: 64, sparse: {} }).forms!;
    expect(dense2.filter((f) => f.subject === 'pool').map((f) => f.why.replace(/: \d+k vs \d+k .*$/, ''))).toEqual([
      'max-pooling layer 1 gradient (one element per 2x2 window: 4320 of 17280): compact: the convolution before it takes gradients only there',
      'max-pooling layer 4 gradient (one element per 2x2 window: 480 of 1920): compact: the convolution before it takes gradients only there',
    ]);
  });
});

describe('convolution sparse forms on worker threads', () => {
  it('sparse-cnn2, the strided network and the pooling-gradient network with every compact form: two threads, every kernel split, give the bytes of one', async () => {
    const set = loadMnist('train', { limit: batch });
    const mnist = normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784));
    for (const [lowered, x] of [
      [lower(trace(readModelFile('examples/models/sparse-cnn2.json'))), mnist],
      [cases[0].lowered, cases[0].x],
      [cases[4].lowered, cases[4].x],
    ] as const) {
      await expectTwoThreadsBytesOfOne(async (threads) => {
        const m = await createCpuModel(lowered, initModelState(lowered, { seed: 4, dtype: 'float32' }), { threads, minSplitWork: 0, sparse: { mode: 'always' } });
        opened.push(m);
        return run(m, x);
      });
    }
  });
});
