/**
 * batchNorm on the compiled backends, checked more sharply than by the parity suite's small SGD
 * steps: the gradients of the compiled training program (the decomposition into batchMean,
 * batchVar, normalize and their VJPs) are read off one SGD step with no momentum or weight decay
 * and a learning rate of 2^10 (w' = w - 1024 g, exact scaling), and compared with the float64
 * reference backend's, tensor by tensor, and with central finite differences of the float64 loss
 * along a random direction. The same step's running-statistics updates (momentum, unbiased running
 * variance) are compared too. A dense and a conv network, each with an affine and a non-affine
 * batch norm.
 */
import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { batchNorm, conv2d, dense, flatten, input, relu, softmaxCrossEntropy, type Network } from '../../dsl/index.ts';
import { createModel } from '../../runtime/backends.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { forward } from '../../runtime/reference/executor.ts';
import { softmaxCrossEntropyLoss } from '../../runtime/reference/kernels/elementwise.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, relError } from '../parity/helpers.ts';

const LR = 1024;
const batch = 6;

const nets: Record<string, Network> = {
  dense: pipe(input([12]), dense(10), batchNorm(), relu, dense(8), batchNorm({ affine: false, momentum: 0.3, epsilon: 1e-3 }), relu, dense(10), softmaxCrossEntropy),
  conv: pipe(
    input([2, 6, 6]),
    conv2d({ filters: 3, kernel: 3 }), batchNorm({ momentum: 0.2 }), relu,
    conv2d({ filters: 4, kernel: 3, padding: 1, bias: false }), batchNorm({ affine: false }),
    flatten, dense(10), softmaxCrossEntropy,
  ),
};

/** One SGD step with lr 2^10 and nothing else: returns each parameter's gradient (w - w') / lr, and the state after it. */
const gradientStep = async (backend: string, lowered: ReturnType<typeof lower>, init: ModelState, x: Float32Array, labels: Uint8Array) => {
  const state = convert(init, backend === 'reference' ? 'float64' : 'float32');
  const before = new Map([...state.tensors].map(([k, t]) => [k, Float64Array.from(t.data)]));
  const model = await createModel(backend, lowered, state);
  try {
    await model.trainStep(x, labels, batch, { lr: LR, momentum: 0, weightDecay: 0 }, batch, Rng.fromSeed(1, 1));
    await model.sync?.();
  } finally {
    model.dispose?.();
  }
  const grads = new Map<string, Float64Array>();
  for (const [name] of model.state.momentum) {
    const after = model.state.tensors.get(name)!.data;
    grads.set(name, Float64Array.from(before.get(name)!, (w, i) => (w - after[i]) / LR));
  }
  return { grads, state: model.state };
};

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

for (const [name, net] of Object.entries(nets)) {
  describe(`batchNorm on the compiled backends: ${name} network`, () => {
    const lowered = lower(trace(net));
    const init = initModelState(lowered, { seed: 5, dtype: 'float64' });
    const rng = Rng.fromSeed(8, 3);
    const inputSize = net.input.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: batch * inputSize }, () => rng.normal());
    const labels = Uint8Array.from({ length: batch }, () => rng.int(10));
    const oracle = gradientStep('reference', lowered, init, x, labels);

    /** The float64 training-mode loss (batch statistics) at a state. */
    const loss = (state: ModelState) => {
      const pass = forward(lowered, state, Float64Array.from(x), batch, { training: true, rng: Rng.fromSeed(1, 1), samplesSeen: batch });
      return softmaxCrossEntropyLoss(pass.output, Array.from(labels), batch, 10, (n) => new Float64Array(n)).loss;
    };

    for (const backend of ['cpu', 'gpujs:cpu']) {
      it(`${backend}: every parameter's gradient matches the float64 reference's and finite differences; so do the running statistics`, async () => {
        const ref = await oracle;
        const got = await gradientStep(backend, lowered, init, x, labels);
        expect([...got.grads.keys()]).toEqual([...ref.grads.keys()]);
        expect([...got.grads.keys()].some((k) => k.endsWith('.gamma'))).toBe(true);
        for (const [tensor, g] of ref.grads) {
          if (norm(g) < 1e-9) {
            // a bias right before a batch norm: the mean subtraction cancels it, so its gradient is 0
            expect(tensor, 'only a bias before a batch norm has no gradient').toMatch(/^l(0|3)\.bias$/);
            expect(Math.max(...Array.from(got.grads.get(tensor)!, Math.abs)), tensor).toBeLessThan(1e-6);
          } else expect(relError(got.grads.get(tensor)!, g), tensor).toBeLessThan(1e-4);
        }
        for (const [tensor, t] of ref.state.tensors) {
          if (/running(Mean|Var)$/.test(tensor)) expect(relError(got.state.tensors.get(tensor)!.data, t.data), tensor).toBeLessThan(1e-5);
        }

        // finite differences of the float64 loss along a random direction d: (L(w + eps d) - L(w - eps d)) / 2 eps = <g, d>
        const dirRng = Rng.fromSeed(4, 4);
        const dir = new Map([...got.grads].map(([k, g]) => [k, Float64Array.from(g, () => dirRng.normal())]));
        const eps = 1e-6;
        const shifted = (sign: number) => {
          const s = convert(init, 'float64');
          for (const [k, d] of dir) {
            const w = s.tensors.get(k)!.data;
            for (let i = 0; i < w.length; i++) w[i] += sign * eps * d[i];
          }
          return loss(s);
        };
        const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
        let analytic = 0;
        for (const [k, g] of got.grads) g.forEach((v, i) => (analytic += v * dir.get(k)![i]));
        expect(Math.abs(analytic - numeric) / (Math.abs(analytic) + Math.abs(numeric))).toBeLessThan(1e-4);
      });
    }
  });
}
