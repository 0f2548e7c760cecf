/**
 * What fusion and buffer planning make of each example network: the number of kernels of its
 * train and inference programs (a fusion regression changes a count and fails here), and a few
 * targeted facts about which ops share a kernel and which buffers are shared.
 *
 * When fusion gets better and a count drops, update the table below (and say so in the commit).
 */
import { describe, expect, it } from 'vitest';
import { compile, type Compiled, type ProgramKind } from '../../compiler/backend/compile.ts';
import { lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { readModelFile } from '../../dsl/index.ts';

/** Kernels per program at batch 64. */
const expected: Record<string, Record<ProgramKind, number>> = {
  'dense-mlp': { train: 19, inference: 3, epochEnd: 0 },
  'dropout-mlp': { train: 21, inference: 3, epochEnd: 0 },
  'sparse-mlp': { train: 25, inference: 7, epochEnd: 2 },
  'dense-cnn1': { train: 21, inference: 4, epochEnd: 0 },
  'dense-cnn2': { train: 29, inference: 6, epochEnd: 0 },
  'dense-cnn2-dropout': { train: 30, inference: 6, epochEnd: 0 }, // dense-cnn2 + the dropout's maskScale (its own kernel: the ReLU output it reads is also read by the backward)
  'sparse-cnn1': { train: 27, inference: 8, epochEnd: 2 },
  'sparse-cnn2': { train: 38, inference: 12, epochEnd: 3 },
};

const lowered = new Map<string, Lowered>();
const loweredOf = (model: string): Lowered => {
  let l = lowered.get(model);
  if (!l) lowered.set(model, (l = lower(trace(readModelFile(`examples/models/${model}.json`)))));
  return l;
};
const compiled = (model: string, program: ProgramKind, batch = 64): Compiled => compile(loweredOf(model), { program, batch });

/** The op names of each kernel, e.g. `linear+biasAdd+relu`. */
const kernelOps = (c: Compiled): string[] => c.schedule.kernels.map((k) => k.ops.map((o) => c.schedule.ir.ops[o].op).join('+'));

describe('kernel counts of the example networks', () => {
  for (const [model, counts] of Object.entries(expected)) {
    it(`${model}: train ${counts.train}, inference ${counts.inference}, epochEnd ${counts.epochEnd} kernels`, () => {
      const got = Object.fromEntries((['train', 'inference', 'epochEnd'] as const).map((p) => [p, compiled(model, p).schedule.kernels.length]));
      expect(got).toEqual(counts);
    });
  }

  it('covers every example network', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('examples/models').filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
    expect(Object.keys(expected).sort()).toEqual(files.sort());
  });

  it('the kernel count does not depend on the batch size', () => {
    for (const model of ['dense-mlp', 'sparse-cnn2']) {
      for (const program of ['train', 'inference'] as const) {
        expect(compiled(model, program, 1).schedule.kernels.length).toBe(expected[model][program]);
        expect(compiled(model, program, 1000).schedule.kernels.length).toBe(expected[model][program]);
      }
    }
  });

  it('every non-source op of a program is in exactly one kernel', () => {
    const sources = new Set(['input', 'labels', 'random', 'scalar', 'param', 'state', 'moment', 'mask']);
    for (const model of Object.keys(expected)) {
      for (const program of ['train', 'inference', 'epochEnd'] as const) {
        const c = compiled(model, program);
        const seen = c.schedule.kernels.flatMap((k) => [...k.ops]);
        expect(new Set(seen).size).toBe(seen.length);
        const computed = c.schedule.ir.ops.filter((o) => !sources.has(o.op)).map((o) => o.id);
        expect([...seen].sort((a, b) => a - b)).toEqual(computed);
      }
    }
  });
});

describe('fusion facts', () => {
  it('dense-mlp forward: linear + biasAdd + relu is one kernel per hidden layer, in both programs', () => {
    for (const program of ['train', 'inference'] as const) {
      const ops = kernelOps(compiled('dense-mlp', program));
      expect(ops.slice(0, 3)).toEqual(['linear+biasAdd+relu', 'linear+biasAdd+relu', 'linear+biasAdd']);
    }
    expect(kernelOps(compiled('dense-mlp', 'inference'))).toEqual(['linear+biasAdd+relu', 'linear+biasAdd+relu', 'linear+biasAdd']);
  });

  it('momentum is fused into the weight-gradient and bias-gradient kernels, and updates its buffer in place', () => {
    for (const model of Object.keys(expected)) {
      const c = compiled(model, 'train');
      const { ir, kernels, plan } = c.schedule;
      const gradKernels = kernels.filter((k) => ['linearGradW', 'convGradW', 'biasGrad'].includes(ir.ops[k.ops[0]].op));
      expect(gradKernels.length).toBeGreaterThan(0);
      for (const k of gradKernels) {
        // a sparse weight's momentum buffer is masked in the same kernel (pass optimizer)
        const w = ir.ops[ir.ops[k.ops[1]].inputs[2]];
        const masked = w.attrs.role === 'weight' && ir.ops.some((o) => o.op === 'mask' && o.layer === w.layer);
        expect(k.ops.map((o) => ir.ops[o].op)).toEqual([ir.ops[k.ops[0]].op, 'momentum', ...(masked ? ['maskScale'] : [])]);
        expect(plan!.inPlace.has(k.output)).toBe(true);
      }
      // No momentum op is left in a kernel of its own.
      expect(kernels.filter((k) => ir.ops[k.ops[0]].op === 'momentum')).toEqual([]);
    }
  });

  it('dense-mlp backward: the input gradient and the ReLU gradient share a kernel', () => {
    const ops = kernelOps(compiled('dense-mlp', 'train'));
    expect(ops.filter((o) => o === 'linearGradX+reluGrad')).toHaveLength(2);
    expect(ops.filter((o) => o.startsWith('reluGrad'))).toEqual([]);
  });

  it('dropout-mlp backward: the dropout mask and the ReLU gradient are fused into the input-gradient kernel', () => {
    expect(kernelOps(compiled('dropout-mlp', 'train')).filter((o) => o === 'linearGradX+maskScale+reluGrad')).toHaveLength(2);
  });

  it('k-winners backward: kwtaGrad is fused into the input-gradient kernel', () => {
    expect(kernelOps(compiled('sparse-mlp', 'train')).filter((o) => o === 'linearGradX+kwtaGrad')).toHaveLength(2);
    const cnn = kernelOps(compiled('sparse-cnn2', 'train'));
    expect(cnn).toContain('convGradX+kwtaGrad');
    expect(cnn.filter((o) => o === 'linearGradX+kwtaGrad')).toHaveLength(2);
  });

  it('the buffer plan reuses temporaries: dense-mlp trains in less temp memory than one buffer per value', () => {
    const p = compiled('dense-mlp', 'train').schedule.plan!;
    expect(p.tempFloats).toBeLessThan(p.tempFloatsUnshared);
    expect(p.tempFloats).toBe(193_408);
    expect(p.tempFloatsUnshared).toBe(257_408);
    for (const model of ['dropout-mlp', 'sparse-mlp']) {
      const q = compiled(model, 'train').schedule.plan!;
      expect(q.tempFloats).toBeLessThan(q.tempFloatsUnshared);
    }
    const inference = compiled('sparse-mlp', 'inference').schedule.plan!;
    expect(inference.tempFloats).toBeLessThan(inference.tempFloatsUnshared);
    for (const model of Object.keys(expected)) {
      for (const program of ['train', 'inference'] as const) {
        const q = compiled(model, program).schedule.plan!;
        expect(q.tempFloats).toBeLessThanOrEqual(q.tempFloatsUnshared);
      }
    }
  });

  it('asText names the kernel count and the buffer plan', () => {
    const text = compiled('dense-mlp', 'train').asText();
    expect(text).toContain('; 19 kernels');
    expect(text).toContain('k0_linear_biasAdd_relu: %3 linear -> %4 biasAdd -> %5 relu');
    expect(text).toContain('temps holding 193408 floats (257408 without reuse)');
  });
});

describe('batch norm (test networks, test/fixtures/models)', () => {
  const bn = (model: string, program: ProgramKind, batch = 64): Compiled =>
    compile(lower(trace(readModelFile(`test/fixtures/models/${model}.json`))), { program, batch });

  it('kernel counts: bn-mlp train 39, inference 3; bn-cnn train 46, inference 7, epochEnd 1 (independent of the batch)', () => {
    const expectedBn = { 'bn-mlp': { train: 39, inference: 3, epochEnd: 0 }, 'bn-cnn': { train: 46, inference: 7, epochEnd: 1 } };
    for (const [model, counts] of Object.entries(expectedBn)) {
      for (const batch of [1, 64]) {
        const got = Object.fromEntries((['train', 'inference', 'epochEnd'] as const).map((p) => [p, bn(model, p, batch).schedule.kernels.length]));
        expect(got, `${model} at batch ${batch}`).toEqual(counts);
      }
    }
  });

  it('inference: normalisation with the running statistics fuses into the kernel that produces its input', () => {
    expect(kernelOps(bn('bn-mlp', 'inference'))).toEqual(['linear+biasAdd+normalize+relu', 'linear+biasAdd+normalize+relu', 'linear+biasAdd']);
    expect(kernelOps(bn('bn-cnn', 'inference')).slice(0, 3)).toEqual(['conv+biasAdd+normalize+relu', 'maxPool', 'conv+biasAdd+normalize']);
  });

  it('training: batch statistics, then normalize with what follows it fused; running statistics updated in place', () => {
    const c = bn('bn-mlp', 'train');
    const ops = kernelOps(c);
    expect(ops.slice(0, 6)).toEqual(['linear+biasAdd', 'batchMean', 'batchVar', 'runningStat', 'runningStat', 'normalize+relu']);
    const { ir, kernels, plan } = c.schedule;
    const running = kernels.filter((k) => ir.ops[k.ops[0]].op === 'runningStat');
    expect(running).toHaveLength(4);
    for (const k of running) expect(plan!.inPlace.has(k.output)).toBe(true);
    const updated = new Set((ir.updates ?? []).map((u) => ir.ops[u.source].attrs.role));
    expect([...updated]).toEqual(expect.arrayContaining(['runningMean', 'runningVar', 'gamma', 'beta']));
    // the backward: per batch norm, sum(g) and sum(g xhat) per channel, then dx in one elementwise kernel
    expect(ops.filter((o) => o === 'normalizeGradScale')).toHaveLength(2);
    expect(ops.filter((o) => o === 'normalizeGradX')).toHaveLength(2);
  });
});
