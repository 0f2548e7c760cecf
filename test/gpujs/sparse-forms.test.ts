/**
 * The gpujs target of pass `sparseForms` (compact k-winners outputs beside the dense ones, the next
 * layer a gather over the winners, the gradient computed at the winners and expanded): which forms
 * it chooses and the kernels that makes, and the gpujs:cpu, gpujs:webasm and gpujs:webgpu (unless
 * WINNOW_SKIP_WEBGPU=1) backends with every
 * compact form forced (`mode: 'always'`) and as the cost model chooses, against the float64
 * reference: layers of more than one 32-member block and of a size that is no multiple of 32,
 * relu k-winners with fewer than k winners, keys tied at the threshold (more than k winners),
 * k-winners over a feature map; training steps, the inference program at another batch and the
 * updated state, momentum included, within 1e-4.
 */
import { describe, expect, it } from 'vitest';
import { planSparseForms } from '../../compiler/backend/passes/sparse-forms.ts';
import { gpujsKernels } from '../../compiler/codegen/gpujs/kernels.ts';
import { compile, lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { boost, dense, flatten, input, kwta, pipe, readModelFile, relu, softmaxCrossEntropy, sparse } from '../../dsl/index.ts';
import { createModel, type Model } from '../../runtime/backends.ts';
import { createGpujsModel } from '../../runtime/gpujs/model.ts';
import { gpujsCompileOptions } from '../../runtime/gpujs/program.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { modes, requireWebGPU } from '../gpu/helpers.ts';
import { convert, stepsThenInference, expectNearOracle, twins } from '../parity/helpers.ts';

const batch = 8;
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };
const gpujs = (l: Lowered, program: 'train' | 'inference', mode?: 'always') => compile(l, { program, batch, sparse: { ...gpujsCompileOptions.sparse, ...(mode ? { mode } : {}) } });
const kernelOps = (c: ReturnType<typeof gpujs>): string[] => c.schedule.kernels.map((k) => k.ops.map((o) => c.schedule.ir.ops[o].op).join('+'));

const smallInput = (n: number): Float32Array => {
  const rng = Rng.fromSeed(9, 1);
  return Float32Array.from({ length: batch * n }, () => rng.float() * 2 - 0.5);
};

interface Case {
  readonly name: string;
  readonly lowered: Lowered;
  readonly x: Float32Array;
  readonly edit?: (s: ModelState) => void;
}

const cases: ReadonlyArray<Case> = [
  {
    name: 'three blocks of 32 (70 members), then relu k-winners with few positive values',
    lowered: lower(trace(pipe(input([20]), dense(70), kwta({ k: 9 }), boost({ strength: 1.2 }), dense(40), kwta({ k: 4, relu: true }), boost({}), dense(5), softmaxCrossEntropy))),
    x: smallInput(20),
    edit: (s) => {
      const b = s.tensors.get('l2.bias')!.data;
      for (let u = 0; u < b.length; u++) if (u % 3) b[u] = -3;
    },
  },
  {
    name: 'keys tied at the threshold (more than k winners), sparse weights',
    lowered: lower(trace(pipe(input([20]), dense(14), sparse(0.5), kwta({ k: 3 }), boost({}), dense(9), kwta({ k: 3 }), boost({}), dense(4), softmaxCrossEntropy))),
    x: smallInput(20),
    edit: (s) => {
      twins(0)(s);
      twins(2)(s);
    },
  },
  {
    name: 'sparse weights on dense inputs (index lists: 30% of the network input, 20% after relu), then k-winners',
    lowered: lower(trace(pipe(input([20]), dense(12), sparse(0.3), relu, dense(16), sparse(0.2), kwta({ k: 4 }), boost({}), dense(5), softmaxCrossEntropy))),
    x: smallInput(20),
  },
  {
    name: 'k-winners over a feature map (a duty cycle per channel) feeding a dense layer',
    lowered: lower(trace(pipe(input([3, 4, 4]), kwta({ k: 7 }), boost({ strength: 2 }), flatten, dense(10), kwta({ k: 3 }), boost({}), dense(4), softmaxCrossEntropy))),
    x: smallInput(48),
  },
];

const run = (model: Model, x: Float32Array) => {
  const classes = model.lowered.ir.ops[model.lowered.ir.output].shape![0];
  return stepsThenInference(model, x, Uint8Array.from({ length: batch }, (_, i) => (i * 7) % classes), batch, sgd);
};

describe('sparseForms with target gpujs', () => {
  it('sparse-mlp: layer 1 compact (its next layer has 1000 units), layer 3 dense (its next has 10); the dense outputs stay for the duty cycles and weight gradients', () => {
    const l = lower(trace(readModelFile('examples/models/sparse-mlp.json')));
    const c = compile(l, { program: 'train', batch: 64, ...gpujsCompileOptions });
    // layer 0 keeps 50% of its weights: index lists cost more than the dense product on gpu.js
    expect(c.forms!.map((f) => [f.layer, f.subject, f.form])).toEqual([[0, 'weights', 'dense'], [1, 'kwta', 'compact'], [3, 'kwta', 'dense']]);
    expect(c.forms![1].compactCost).toBeLessThan(c.forms![1].denseCost);
    expect(c.forms![2].compactCost).toBeGreaterThan(c.forms![2].denseCost);
    expect(kernelOps(c)).toEqual([
      'linear+biasAdd', 'kwtaKeys', 'kwtaThreshold', 'kwtaApply', 'kwtaBlockCounts', 'kwtaCompact', 'dutyCycle',
      'transpose', 'gather+biasAdd', 'kwtaKeys', 'kwtaThreshold', 'kwtaApply', 'dutyCycle',
      'linear+biasAdd', 'xentStats', 'xentGrad',
      'biasGrad+momentum', 'linearGradX+kwtaGrad', 'linearGradW+momentum',
      'biasGrad+momentum', 'linearGradXAt', 'expand', 'linearGradW+momentum+maskScale', // sparse weights: the momentum masked
      'biasGrad+momentum', 'linearGradW+momentum+maskScale',
      'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate',
    ]);
    const inference = compile(l, { program: 'inference', batch: 64, ...gpujsCompileOptions });
    expect(kernelOps(inference)).toEqual(['linear+biasAdd', 'kwtaKeys', 'kwtaThreshold', 'kwtaApply', 'kwtaBlockCounts', 'kwtaCompact', 'transpose', 'gather+biasAdd', 'kwtaKeys', 'kwtaThreshold', 'kwtaApply', 'linear+biasAdd']);
    // the thresholds and the compaction read the keys kwtaKeys computed once per call
    const ir = inference.schedule.ir;
    for (const o of ir.ops.filter((o) => o.op === 'kwtaThreshold' || o.op === 'kwtaBlockCounts' || o.op === 'kwtaCompact')) expect(ir.ops[o.inputs[o.inputs.length - 1]].op, o.op).toBe('kwtaKeys');
  });

  it('keeps dense where the compact form does not pay or does not exist: 90% active, breakTies, a convolution reading the winners, and no first-layer background skipping', () => {
    const wide = lower(trace(pipe(input([100]), dense(1000), kwta({ k: 900, kInferenceFactor: 1 }), boost({}), dense(1000), softmaxCrossEntropy)));
    expect(compile(wide, { program: 'train', batch: 64, ...gpujsCompileOptions }).forms!.map((f) => f.form)).toEqual(['dense']);
    const tied = lower(trace(pipe(input([100]), dense(1000), kwta({ k: 100, breakTies: true }), boost({}), dense(1000), softmaxCrossEntropy)));
    expect(compile(tied, { program: 'train', batch: 64, ...gpujsCompileOptions }).forms!.map((f) => f.why)).toEqual([expect.stringContaining('breakTies layers have no compact form on gpujs')]);
    const cnn = compile(lower(trace(readModelFile('examples/models/sparse-cnn2.json'))), { program: 'train', batch: 64, ...gpujsCompileOptions });
    expect(cnn.forms!.map((f) => [f.layer, f.form])).toEqual([[2, 'dense'], [5, 'compact'], [8, 'dense']]);
    expect(cnn.forms![0].why).toContain('dense layers only on gpujs');
    expect(cnn.forms!.some((f) => f.subject === 'input')).toBe(false);
  });

  it('sparse weights on a dense input: index lists forward at 30% kept, dense at 90%; the gradients stay dense, the weight gradient skipping masked entries at 30%', () => {
    const net = (density: number) => lower(trace(pipe(input([784]), dense(1000), sparse(density), relu, dense(10), softmaxCrossEntropy)));
    const plan = (density: number) => planSparseForms(compile(net(density), { program: 'train', batch: 64 }).schedule.ir, { batch: 64, target: 'gpujs' });
    const thirty = plan(0.3);
    expect(thirty.choices.map((f) => [f.layer, f.subject, f.form])).toEqual([[0, 'weights', 'compact']]);
    expect(thirty.choices[0].why).toMatch(/^dense layer 0 with sparse weights \(30% = 235 of 784 kept per unit\): compact: index lists 705k vs 784k dense \(estimated gpu\.js loop iterations per sample, forward; the gradients stay dense, the weight gradient skipping the masked entries\)$/);
    expect(plan(0.9).choices.map((f) => [f.layer, f.subject, f.form])).toEqual([[0, 'weights', 'dense']]);
    const c = compile(net(0.3), { program: 'train', batch: 64, ...gpujsCompileOptions });
    expect(kernelOps(c).filter((k) => k.startsWith('linear'))).toEqual(['linearIdx+biasAdd+relu', 'linear+biasAdd', 'linearGradX+reluGrad', 'linearGradW+momentum', 'linearGradW+momentum+maskScale']);
    // the weight gradient of the 30% layer loops over the batch only where its mask keeps the input
    const gradW = gpujsKernels(c.schedule, 64).find((k) => k.name.startsWith('k') && k.name.includes('linearGradW_momentum_mask'))!;
    expect(gradW.source).toMatch(/if \(v\d+\[ty\]\[tx\] > 0\.5\) \{\n\s+for \(let smp = 0; smp < 64; smp\+\+\)/);
    expect(gpujsKernels(compile(net(0.5), { program: 'train', batch: 64, ...gpujsCompileOptions }).schedule, 64).find((k) => k.name.includes('linearGradW_momentum_mask'))!.source).not.toContain('> 0.5) {');
  });

  it('a mask keeping the wrong count per unit (a hand-edited checkpoint) is refused, naming the tensor', async () => {
    const lowered = lower(trace(pipe(input([20]), dense(12), sparse(0.3), relu, dense(5), softmaxCrossEntropy)));
    const state = convert(initModelState(lowered, { seed: 3, dtype: 'float64' }), 'float32');
    const mask = Uint8Array.from(state.masks.get('l0.weight')!);
    mask[20 + mask.subarray(20, 40).indexOf(0)] = 1; // unit 1 keeps one input more
    const model = await createGpujsModel('cpu', 'gpujs:cpu', lowered, { ...state, masks: new Map([['l0.weight', mask]]) }, { sparse: { mode: 'always' } });
    try {
      await expect(model.predict(smallInput(20), batch)).rejects.toThrow(/^mask l0\.weight: unit 1 keeps 7 of its 20 inputs, but the layer keeps 6 per unit \(weightDensity\)$/);
    } finally {
      model.dispose?.();
    }
  });

  it('the forced forms reach every gpujs sparse kernel, relu and feature-map variants included', () => {
    const ops = new Set<string>();
    const attrs = new Set<string>();
    for (const c of cases) {
      for (const program of ['train', 'inference'] as const) {
        for (const o of gpujs(c.lowered, program, 'always').schedule.ir.ops) {
          ops.add(o.op);
          if (o.op === 'kwtaCompact') attrs.add(`relu=${o.attrs.relu},hw=${o.attrs.hw}`);
        }
      }
    }
    for (const op of ['kwtaKeys', 'kwtaBlockCounts', 'kwtaCompact', 'transpose', 'gather', 'linearGradXAt', 'expand', 'maskIndex', 'linearIdx', 'linearIdxGradW']) expect(ops, op).toContain(op);
    for (const a of ['relu=true,hw=1', 'relu=false,hw=1', 'relu=false,hw=16']) expect(attrs, a).toContain(a);
  });
});

for (const mode of modes) {
  describe(`gpujs:${mode} sparse forms against the float64 reference`, () => {
    for (const c of cases) {
      const init = initModelState(c.lowered, { seed: 3, dtype: 'float64' });
      c.edit?.(init);
      const oracle = createModel('reference', c.lowered, convert(init, 'float64')).then((m) => run(m, c.x));
      for (const forms of ['always', 'auto'] as const) {
        it(`${c.name} (${forms})`, async () => {
          if (mode === 'webgpu') await requireWebGPU();
          const tested = await run(await createGpujsModel(mode, `gpujs:${mode}`, c.lowered, convert(init, 'float32'), { sparse: forms === 'always' ? { mode: 'always' } : {}, ...(mode === 'webgpu' ? { softwareLoopLimit: true } : {}) }), c.x);
          const want = await oracle;
          expectNearOracle(tested, want);
        });
      }
    }
  });
}
