import { describe, expect, it } from 'vitest';
import type { ModelState } from '../../runtime/model-state.ts';
import { sgdStep } from '../../runtime/optimizer.ts';

const state = (w: number[], mask?: number[]): ModelState => ({
  dtype: 'float64',
  tensors: new Map([['l0.weight', { name: 'l0.weight', shape: [2, 2], data: Float64Array.from(w) }]]),
  masks: new Map(mask ? [['l0.weight', Uint8Array.from(mask)]] : []),
  momentum: new Map([['l0.weight', new Float64Array(4)]]),
});

describe('SGD with momentum, weight decay and mask re-zeroing', () => {
  it('matches hand-computed numbers over two steps', () => {
    const s = state([1, -2, 0.5, 0]);
    const g = new Map([['l0.weight', Float64Array.from([0.1, 0.2, -0.4, 1])]]);
    sgdStep(s, g, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    // g' = g + 0.01 w = [0.11, 0.18, -0.395, 1]; buf = g'; w -= 0.1 buf
    const w1 = [1 - 0.011, -2 - 0.018, 0.5 + 0.0395, 0 - 0.1];
    expect([...s.tensors.get('l0.weight')!.data].map((v, i) => v - w1[i]).every((d) => Math.abs(d) < 1e-15)).toBe(true);
    sgdStep(s, g, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    // buf = 0.9 buf + g + 0.01 w1
    const buf2 = [0.11, 0.18, -0.395, 1].map((b, i) => 0.9 * b + [0.1, 0.2, -0.4, 1][i] + 0.01 * w1[i]);
    const w2 = w1.map((v, i) => v - 0.1 * buf2[i]);
    const got = [...s.tensors.get('l0.weight')!.data];
    got.forEach((v, i) => expect(v).toBeCloseTo(w2[i], 14));
  });

  it('re-zeroes masked weights after every step, whatever the gradient and momentum hold', () => {
    const s = state([1, 0, 0, 2], [1, 0, 0, 1]);
    const g = new Map([['l0.weight', Float64Array.from([0.5, 3, -7, 0.5])]]);
    sgdStep(s, g, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
    expect([...s.tensors.get('l0.weight')!.data]).toEqual([0.95, 0, 0, 1.95]);
    sgdStep(s, g, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
    // kept weights follow momentum: buf = 0.9 * 0.5 + 0.5 = 0.95
    const w = [...s.tensors.get('l0.weight')!.data];
    expect(w[1]).toBe(0);
    expect(w[2]).toBe(0);
    expect(w[0]).toBeCloseTo(0.95 - 0.095, 15);
    expect(w[3]).toBeCloseTo(1.95 - 0.095, 15);
  });
});
