import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { batchNorm, boost, conv2d, dense, dropconnect, dropout, flatten, input, kwta, maxPool2d, relu, softmaxCrossEntropy, sparse, type Network } from '../../dsl/index.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { backward, forward } from '../../runtime/reference/executor.ts';
import { softmaxCrossEntropyLoss } from '../../runtime/reference/kernels/elementwise.ts';
import { Rng } from '../../runtime/rng.ts';

const cloneState = (s: ModelState): ModelState => ({
  dtype: s.dtype,
  tensors: new Map([...s.tensors].map(([k, v]) => [k, { ...v, data: v.data.slice() }])),
  masks: s.masks,
  momentum: s.momentum,
});

/** Loss of a whole network on a batch, and its gradient w.r.t. every parameter, in float64. */
const checkNetwork = (net: Network, batch: number, seed: number) => {
  const lowered = lower(trace(net));
  const base = initModelState(lowered, { seed, dtype: 'float64' });
  const rng = Rng.fromSeed(seed, 5);
  const inputSize = net.input.reduce((a, b) => a * b, 1);
  const x = Float64Array.from({ length: batch * inputSize }, () => rng.normal());
  const labels = Array.from({ length: batch }, () => rng.int(10));
  const alloc = (n: number) => new Float64Array(n);
  const lossAt = (state: ModelState) => {
    const pass = forward(lowered, state, x, batch, { training: true, rng: Rng.fromSeed(99), samplesSeen: batch });
    return { pass, ...softmaxCrossEntropyLoss(pass.output, labels, batch, 10, alloc) };
  };
  const s0 = cloneState(base);
  const { pass, dLogits } = lossAt(s0);
  const grads = backward(lowered, s0, pass, dLogits);
  // a random unit direction over all parameters (masked weights stay masked)
  const dir = new Map<string, Float64Array>();
  let norm = 0;
  for (const [name, g] of grads) {
    const mask = base.masks.get(name);
    const d = Float64Array.from({ length: g.length }, (_, i) => (mask && !mask[i] ? 0 : rng.normal()));
    norm += d.reduce((a, v) => a + v * v, 0);
    dir.set(name, d);
  }
  for (const d of dir.values()) for (let i = 0; i < d.length; i++) d[i] /= Math.sqrt(norm);
  const eps = 1e-6;
  const shifted = (sign: number) => {
    const s = cloneState(base);
    for (const [name, d] of dir) {
      const w = s.tensors.get(name)!.data;
      for (let i = 0; i < w.length; i++) w[i] += sign * eps * d[i];
    }
    return lossAt(s).loss;
  };
  const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
  let analytic = 0;
  for (const [name, g] of grads) {
    const d = dir.get(name)!;
    for (let i = 0; i < g.length; i++) analytic += g[i] * d[i];
  }
  return { numeric, analytic, relError: Math.abs(numeric - analytic) / (Math.abs(numeric) + Math.abs(analytic)) };
};

describe('whole-network gradients (finite differences along a random direction, float64)', () => {
  it('sparse MLP with k-winners, boosting, dropout, DropConnect and batch norm', () => {
    const net = pipe(
      input([20]),
      dense(16), sparse(0.5), kwta({ percentOn: 0.25 }), boost({ strength: 1.5 }),
      dense(12), dropconnect(0.2), batchNorm(), relu, dropout(0.3),
      dense(10), softmaxCrossEntropy,
    );
    const r = checkNetwork(net, 6, 3);
    expect(r.relError).toBeLessThan(1e-6);
  });

  it('CNN with convolution, max-pool, global and local k-winners', () => {
    const net = pipe(
      input([1, 8, 8]),
      conv2d({ filters: 4, kernel: 3 }), maxPool2d(2), kwta({ k: 10 }), boost({}),
      conv2d({ filters: 6, kernel: 2, padding: 1 }), kwta({ percentOn: 0.5, local: true }),
      flatten, dense(10), softmaxCrossEntropy,
    );
    const r = checkNetwork(net, 4, 5);
    expect(r.relError).toBeLessThan(1e-6);
  });
});
