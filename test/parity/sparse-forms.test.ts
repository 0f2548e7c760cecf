/**
 * The cpu backend's sparse forms (pass `sparseForms` and compiler/codegen/js/sparse.ts) against the
 * float64 reference, on networks that reach every path of the compact kernels: k-winners with tie
 * breaking and with relu (fewer than k winners), keys tied at the threshold (more than k winners),
 * k-winners over a feature map (a duty cycle per channel), a ReLU layer before a k-winners layer
 * (its gradient leaves the compact form through rows of W), DropConnect on a layer reading compact
 * winners, and the first layer skipping its input's background. Each network runs with every
 * compact form forced (`mode: 'always'`) and as the cost model chooses; training steps, the
 * inference program (k x kInferenceFactor winners) and the updated state, momentum included, must
 * match the oracle within 1e-4; and two threads must give the same bytes as one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile, lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { boost, dense, dropconnect, flatten, input, kwta, pipe, readModelFile, relu, softmaxCrossEntropy, sparse } from '../../dsl/index.ts';
import { createModel, type Model } from '../../runtime/backends.ts';
import { createCpuModel, type CpuModel } from '../../runtime/cpu/model.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, stepsThenInference, expectTwoThreadsBytesOfOne, expectNearOracle, twins } from './helpers.ts';

const batch = 8;
const set = loadMnist('train', { limit: batch });
const mnist = normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784));
/** MNIST's labels folded into a network's classes. */
const labelsFor = (lowered: Lowered): Uint8Array => {
  const classes = lowered.ir.ops[lowered.ir.output].shape![0];
  return Uint8Array.from(set.labels.slice(0, batch), (l) => l % classes);
};
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };

/** A small input: mostly one background value (-0.5), like a normalised digit, with some values. */
const smallInput = (n: number): Float32Array => {
  const rng = Rng.fromSeed(9, 1);
  return Float32Array.from({ length: batch * n }, () => (rng.float() < 0.3 ? rng.float() * 2 - 0.5 : -0.5));
};

interface Case {
  readonly name: string;
  readonly lowered: Lowered;
  readonly x: Float32Array;
  /** Edits of the initial state (ties, negative biases). */
  readonly edit?: (s: ModelState) => void;
}

const cases: ReadonlyArray<Case> = [
  {
    name: 'tie-broken k-winners, then relu k-winners with few positive values, DropConnect on the layer between',
    lowered: lower(trace(pipe(input([20]), dense(16), kwta({ k: 5, breakTies: true }), boost({ strength: 1.2 }), dense(12), dropconnect(0.2), kwta({ k: 4, relu: true }), boost({}), dense(5), softmaxCrossEntropy))),
    x: smallInput(20),
    edit: (s) => {
      twins(0)(s);
      const b = s.tensors.get('l2.bias')!.data;
      for (let u = 0; u < b.length; u++) if (u % 3) b[u] = -3; // most units negative: relu leaves fewer than k
    },
  },
  {
    name: 'keys tied at the threshold (more than k winners), sparse weights',
    lowered: lower(trace(pipe(input([20]), dense(14), sparse(0.5), kwta({ k: 3 }), boost({}), dense(9), sparse(0.4), kwta({ k: 3 }), boost({}), dense(4), softmaxCrossEntropy))),
    x: smallInput(20),
    edit: (s) => {
      twins(0)(s);
      twins(2)(s);
    },
  },
  {
    name: 'k-winners over a feature map (duty cycle per channel) feeding a dense layer',
    lowered: lower(trace(pipe(input([3, 4, 4]), kwta({ k: 7 }), boost({ strength: 2 }), flatten, dense(10), kwta({ k: 3 }), boost({}), dense(4), softmaxCrossEntropy))),
    x: smallInput(48),
  },
  {
    name: 'k-winners of 600 on the input: all keys equal, one bucket holding most keys, and spread keys (the histogram selection and its fallbacks)',
    lowered: lower(trace(pipe(input([600]), kwta({ k: 5 }), boost({}), dense(6), kwta({ k: 2 }), boost({}), dense(3), softmaxCrossEntropy))),
    x: (() => {
      const rng = Rng.fromSeed(2, 1);
      const x = new Float32Array(batch * 600);
      x[600 + 7] = 1; // sample 1: one value above 599 zeros; sample 0 all zeros
      for (let i = 2 * 600; i < x.length; i++) x[i] = rng.float() < 0.7 ? rng.float() * 2 - 1 : 0;
      return x;
    })(),
  },
  {
    name: 'a ReLU layer before a k-winners layer (the gradient leaves the compact form), and the MNIST input skipping its background',
    lowered: lower(trace(pipe(input([784]), dense(24), relu, dense(30), sparse(0.3), kwta({ k: 4 }), boost({}), dense(10), softmaxCrossEntropy))),
    x: mnist,
  },
];

/** Two training steps with a prediction between, an epoch end, then an inference at another batch. */
const run = (model: Model, x: Float32Array) => stepsThenInference(model, x, labelsFor(model.lowered), batch, sgd);

const opened: CpuModel[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));

describe('sparse forms on the cpu backend against the float64 reference', () => {
  for (const c of cases) {
    const init = initModelState(c.lowered, { seed: 3, dtype: 'float64' });
    c.edit?.(init);
    const oracle = createModel('reference', c.lowered, convert(init, 'float64')).then((m) => run(m, c.x));
    for (const mode of ['always', 'auto'] as const) {
      it(`${c.name} (${mode})`, async () => {
        const compiled = compile(c.lowered, { program: 'train', batch, sparse: { mode } });
        if (mode === 'always') expect(compiled.forms!.some((f) => f.form === 'compact')).toBe(true);
        const tested = await run(await createCpuModel(c.lowered, convert(init, 'float32'), { threads: 1, sparse: { mode } }), c.x);
        const want = await oracle;
        expectNearOracle(tested, want);
      });
    }
  }

  it('the forced compact forms reach every sparse kernel kind, the tie and relu variants included', () => {
    const ops = new Set<string>();
    const attrs: string[] = [];
    for (const c of cases) {
      for (const program of ['train', 'inference'] as const) {
        for (const o of compile(c.lowered, { program, batch, sparse: { mode: 'always' } }).schedule.ir.ops) {
          ops.add(o.op);
          if (o.op === 'kwtaCompact') attrs.push(`breakTies=${o.attrs.breakTies},relu=${o.attrs.relu},hw=${o.attrs.hw}`);
          if (o.op === 'linearGradXAt' || o.op === 'linearGradWOuter') attrs.push(`${o.op}:gCap>0=${(o.attrs.gCap as number) > 0}`);
        }
      }
    }
    for (const op of ['kwtaCompact', 'compactInput', 'dutyCycleCompact', 'transpose', 'gather', 'linearGradXAt', 'linearGradWOuter', 'biasGradCompact']) expect(ops, op).toContain(op);
    for (const a of ['breakTies=true,relu=false,hw=1', 'breakTies=false,relu=true,hw=1', 'breakTies=false,relu=false,hw=16', 'linearGradXAt:gCap>0=true', 'linearGradXAt:gCap>0=false', 'linearGradWOuter:gCap>0=true', 'linearGradWOuter:gCap>0=false']) expect(attrs, a).toContain(a);
  });
});

describe('sparse forms on worker threads', () => {
  it('sparse-mlp and the tied network with every compact form: two threads, every kernel split, give the bytes of one', async () => {
    for (const [lowered, x, edit] of [
      [lower(trace(readModelFile('examples/models/sparse-mlp.json'))), mnist, undefined],
      [cases[1].lowered, cases[1].x, cases[1].edit],
    ] as const) {
      await expectTwoThreadsBytesOfOne(async (threads) => {
        const state = initModelState(lowered, { seed: 4, dtype: 'float32' });
        edit?.(state);
        const m = await createCpuModel(lowered, state, { threads, minSplitWork: 0, sparse: { mode: 'always' } });
        opened.push(m);
        return run(m, x);
      });
    }
  });
});
