/**
 * Pass `sparseForms` (the cpu backend's compact forms): which forms it chooses for the example
 * networks and why, the kernels that makes, and that every other backend keeps the dense IR.
 * Numerical agreement with the reference is tested in test/parity/sparse-forms.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { compile, type Compiled, type ProgramKind } from '../../compiler/backend/compile.ts';
import { lower, trace, irProblems } from '../../compiler/index.ts';
import { compactStride } from '../../compiler/ops/prim/sparse.ts';
import { boost, dense, dropout, input, kwta, pipe, readModelFile, relu, softmaxCrossEntropy } from '../../dsl/index.ts';

const lowered = (model: string) => lower(trace(readModelFile(`examples/models/${model}.json`)));
const cpu = (l: ReturnType<typeof lowered>, program: ProgramKind, batch = 64, sparse = {}): Compiled => compile(l, { program, batch, sparse });
const opsOf = (c: Compiled) => c.schedule.ir.ops.map((o) => o.op);
const kernelOps = (c: Compiled): string[] => c.schedule.kernels.map((k) => k.ops.map((o) => c.schedule.ir.ops[o].op).join('+'));

describe('sparseForms on the example MLPs', () => {
  it('sparse-mlp: both k-winners layers compact and the input skipping its background; no dense k-winners or dense products remain', () => {
    const c = cpu(lowered('sparse-mlp'), 'train');
    expect(c.passes).toEqual(['decompose', 'autodiff', 'optimizer', 'sparseForms', 'fuse', 'planBuffers']);
    expect(c.forms!.map((f) => [f.layer, f.subject, f.form])).toEqual([[0, 'input', 'compact'], [1, 'kwta', 'compact'], [3, 'kwta', 'compact']]);
    for (const f of c.forms!) expect(f.compactCost).toBeLessThan(f.denseCost);
    const ops = opsOf(c);
    for (const gone of ['kwtaThreshold', 'kwtaApply', 'kwtaGrad', 'linear', 'linearGradX', 'linearGradW', 'dutyCycle']) expect(ops, gone).not.toContain(gone);
    expect(kernelOps(c)).toEqual([
      'compactInput', 'transpose', 'gather+biasAdd', 'kwtaCompact', 'dutyCycleCompact', // layers 0-1
      'transpose', 'gather+biasAdd', 'kwtaCompact', 'dutyCycleCompact', // layers 2-3
      'transpose', 'gather+biasAdd', // layer 4
      'xentStats', 'xentGrad', 'biasGrad+momentum',
      'linearGradXAt', 'linearGradWOuter+momentum', 'biasGradCompact+momentum', // layer 4 backward, the gradient at layer 3's winners
      'linearGradXAt', 'linearGradWOuter+momentum+maskScale', 'biasGradCompact+momentum', // layer 2 backward (sparse weights: the momentum masked)
      'linearGradWOuter+momentum+maskScale', // layer 0's weights: winners x pixels
      'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate', 'sgdUpdate',
    ]);
    // the winners' gradients: layer 4's comes dense (the head), layer 2's compact
    const gradXAt = c.schedule.ir.ops.filter((o) => o.op === 'linearGradXAt').map((o) => o.attrs.gCap);
    expect(gradXAt).toEqual([0, 1000]);
    const outer = c.schedule.ir.ops.filter((o) => o.op === 'linearGradWOuter').map((o) => [o.attrs.gCap, o.attrs.xCap]);
    expect(outer).toEqual([[0, 1000], [1000, 1000], [1000, 0]]);
  });

  it('sparse-mlp inference: k x kInferenceFactor winners, compact, 9 kernels', () => {
    const c = cpu(lowered('sparse-mlp'), 'inference', 1000);
    expect(kernelOps(c)).toEqual(['compactInput', 'transpose', 'gather+biasAdd', 'kwtaCompact', 'transpose', 'gather+biasAdd', 'kwtaCompact', 'transpose', 'gather+biasAdd']);
    expect(c.schedule.ir.ops.filter((o) => o.op === 'kwtaCompact').map((o) => [o.attrs.k, o.attrs.cap])).toEqual([[150, 1000], [150, 1000]]);
    expect(c.schedule.ir.ops.find((o) => o.op === 'kwtaCompact')!.shape).toEqual([compactStride(1000)]);
  });

  it('dense-mlp: its hidden layers stay dense (nothing known about ReLU outputs); only the first layer skips the background', () => {
    const c = cpu(lowered('dense-mlp'), 'train');
    expect(c.forms!.map((f) => [f.layer, f.form])).toEqual([[0, 'compact'], [2, 'dense'], [4, 'dense']]);
    expect(c.forms![1].why).toBe('dense layer 2: dense: its input (relu) has no density the compiler knows (only k-winners outputs and the network input are compacted)');
    expect(kernelOps(c).slice(0, 5)).toEqual(['compactInput', 'transpose', 'gather+biasAdd+relu', 'linear+biasAdd+relu', 'linear+biasAdd']);
    expect(kernelOps(c).filter((k) => k.startsWith('linearGradW'))).toHaveLength(3);
  });

  it('the text of the compiled stage says what was chosen and why, per layer', () => {
    const text = cpu(lowered('sparse-mlp'), 'train').asText();
    expect(text).toContain('; stage: compiled train (passes: decompose, autodiff, optimizer, sparseForms, fuse, planBuffers; batch 64)');
    expect(text).toContain('; form: dense layer 0 on the input (784 values, assumed 25% off the background) with sparse weights (50% = 392 of 784 kept per unit): compact: background-skipping gather 91k vs 196k dense, 197k index lists');
    expect(text).toMatch(/; form: k-winners layer 1 \(100 of 1000, 10% active\): compact: winners as index lists, the next layer gathers rows of W\^T: \d+k vs \d+k dense/);
  });

  it('without the option (every backend but cpu) the IR stays dense, as before', () => {
    for (const program of ['train', 'inference'] as const) {
      const c = compile(lowered('sparse-mlp'), { program, batch: 64 });
      expect(c.passes).not.toContain('sparseForms');
      expect(c.forms).toBeUndefined();
      expect(opsOf(c).some((o) => ['kwtaCompact', 'gather', 'transpose', 'compactInput'].includes(o))).toBe(false);
    }
  });

  it('the IR after the pass verifies, at every batch size', () => {
    for (const model of ['sparse-mlp', 'dense-mlp', 'dropout-mlp', 'sparse-cnn2']) {
      for (const batch of [1, 8, 64, 1000]) {
        for (const program of ['train', 'inference'] as const) expect(irProblems(cpu(lowered(model), program, batch).schedule.ir, { requireShapes: true }), `${model} ${program} ${batch}`).toEqual([]);
      }
    }
  });
});

describe('the cost model', () => {
  const net = (percentOn: number) => lower(trace(pipe(input([784]), dense(1000), kwta({ percentOn, kInferenceFactor: 1 }), boost({}), dense(1000), kwta({ percentOn, kInferenceFactor: 1 }), boost({}), dense(10), softmaxCrossEntropy)));

  it('a 90%-active k-winners layer stays dense, 10% goes compact', () => {
    const dense90 = cpu(net(0.9), 'train').forms!.filter((f) => f.subject === 'kwta');
    expect(dense90.map((f) => f.form)).toEqual(['dense', 'dense']);
    for (const f of dense90) expect(f.compactCost).toBeGreaterThan(f.denseCost);
    expect(dense90[0].why).toMatch(/^k-winners layer 1 \(900 of 1000, 90% active\): dense: /);
    expect(cpu(net(0.1), 'train').forms!.filter((f) => f.subject === 'kwta').map((f) => f.form)).toEqual(['compact', 'compact']);
    // where it does not pay, the kernels are the dense ones
    expect(kernelOps(cpu(net(0.9), 'train'))).toContain('linearGradX+kwtaGrad');
  });

  it('the input layer: dense when the input density is unknown to be low, or when one sample cannot pay for the transpose', () => {
    const l = lowered('dense-mlp'); // dense weights: no index lists to weigh
    expect(cpu(l, 'train', 64, { inputDensity: 1 }).forms!.find((f) => f.subject === 'input')!.form).toBe('dense');
    expect(cpu(l, 'inference', 1).forms!.find((f) => f.subject === 'input')!.form).toBe('dense');
    expect(cpu(l, 'inference', 1000).forms!.find((f) => f.subject === 'input')!.form).toBe('compact');
  });

  it("mode 'always' compacts every layer that has a compact form, whatever it costs", () => {
    const c = cpu(net(0.9), 'train', 64, { mode: 'always' });
    expect(c.forms!.filter((f) => f.subject === 'kwta').map((f) => f.form)).toEqual(['compact', 'compact']);
  });

  it('k-winners layers read by anything without a compact form keep the dense form and say why', () => {
    const intoRelu = lower(trace(pipe(input([20]), dense(8), kwta({ k: 2 }), relu, dense(4), softmaxCrossEntropy)));
    expect(cpu(intoRelu, 'train').forms!.find((f) => f.subject === 'kwta')!.why).toMatch(/^k-winners layer 1 \(2 of 8, 25% active\): dense: read by relu/);
    const intoDropout = lower(trace(pipe(input([20]), dense(8), kwta({ k: 2 }), dropout(0.5), dense(4), softmaxCrossEntropy)));
    expect(cpu(intoDropout, 'train').forms!.find((f) => f.subject === 'kwta')!.form).toBe('dense');
    expect(cpu(intoDropout, 'inference').forms!.find((f) => f.subject === 'kwta')!.form).toBe('compact'); // dropout is the identity at inference
    const logits = lower(trace(pipe(input([20]), dense(8), kwta({ k: 2 }), softmaxCrossEntropy)));
    expect(cpu(logits, 'train').forms!.find((f) => f.subject === 'kwta')!.why).toMatch(/dense: its output leaves the program/);
  });
});
