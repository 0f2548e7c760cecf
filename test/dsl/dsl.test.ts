import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { conv2dRule } from '../../dsl/conv2d.ts';
import { denseRule } from '../../dsl/dense.ts';
import { inferenceK, keptInputsPerUnit, roundHalfEven } from '../../dsl/density.ts';
import {
  batchNorm,
  boost,
  conv2d,
  defaultBoost,
  dense,
  dropconnect,
  dropout,
  flatten,
  input,
  isWinnowError,
  kwta,
  kwtaSizes,
  limits,
  maxPool2d,
  named,
  outputShape,
  relu,
  ShapeError,
  softmaxCrossEntropy,
  sparse,
  withTraining,
  WinnowError,
  type KwtaLayer,
  type Network,
} from '../../dsl/index.ts';
import { ruleOf } from '../../dsl/rules.ts';
import { thrown } from './helpers.ts';


/** Asserts that `f` throws a ShapeError naming layer `index` of `kind`, with exactly `message`. */
const expectShapeError = (f: () => unknown, index: number | undefined, kind: string | undefined, message: string): ShapeError => {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ShapeError);
  expect(e).toBeInstanceOf(WinnowError);
  const se = e as ShapeError;
  expect(se.message).toBe(message);
  expect(se.kind).toBe('shape');
  expect(se.layerIndex).toBe(index);
  expect(se.layerKind).toBe(kind);
  expect(se.problems).toEqual([message]);
  expect(isWinnowError(se)).toBe(true);
  return se;
};

/** Asserts that `f` throws a (non-shape) WinnowError with `kind` and exactly `message`. */
const expectWinnowError = (f: () => unknown, kind: WinnowError['kind'], message: string): void => {
  const e = thrown(f);
  expect(e).toBeInstanceOf(WinnowError);
  expect(e).not.toBeInstanceOf(ShapeError);
  expect((e as WinnowError).kind).toBe(kind);
  expect((e as WinnowError).message).toBe(message);
};

/** The resolved k-winners sizes of layer `i` of `net`. */
const sizesOf = (net: Network<any>, i: number) => {
  const r = kwtaSizes(net.layers[i] as KwtaLayer, i === 0 ? net.input : net.shapes[i - 1]);
  if (E.isLeft(r)) throw new Error(r.left);
  return r.right;
};

/** Non-zero parameters of layer `i` (after the sparse-weight mask), from the layer's rule. */
const nonzeroOf = (net: Network<any>, i: number): number =>
  ruleOf(net.layers[i]).params(net.layers[i], i === 0 ? net.input : net.shapes[i - 1]).nonzero;

describe('input', () => {
  it('accepts [n] and [c, h, w] and starts with no layers', () => {
    const v = input([784]);
    expect(v).toEqual({ _tag: 'Network', last: 'input', input: [784], layers: [], shapes: [], paramCounts: [] });
    expect(outputShape(v)).toEqual([784]);
    const img = input([1, 28, 28], { name: 'mnist' });
    expect(img.input).toEqual([1, 28, 28]);
    expect(img.name).toBe('mnist');
    expect(outputShape(img)).toEqual([1, 28, 28]);
  });

  it('copies the shape it is given', () => {
    const shape = [3, 4, 5];
    const net = input(shape);
    shape[0] = 99;
    expect(net.input).toEqual([3, 4, 5]);
  });

  it.each([[[0]], [[2, 3]], [[1, 2, 3, 4]], [[]], [[1.5]], [[-1]], [[limits.maxDimension + 1]]])('rejects shape %j', (shape) => {
    expectWinnowError(
      () => input(shape),
      'shape',
      `input: shape must be [n] or [c, h, w] of positive integers <= 65536, got [${shape.join(', ')}]`,
    );
  });

  it('accepts the largest dimension and the largest activation count', () => {
    expect(input([limits.maxDimension]).input).toEqual([65536]);
    expect(input([64, 256, 256]).input).toEqual([64, 256, 256]); // exactly 2^22 values
  });

  it('rejects an input with more values than maxActivations', () => {
    expectWinnowError(() => input([65, 256, 256]), 'shape', 'input: 4259840 values per sample exceed the limit of 4194304');
  });

  it('rejects a name that is not an identifier', () => {
    expectWinnowError(() => input([4], { name: 'my-net' }), 'model', 'input: name: must be an identifier (a letter or _, then letters, digits or _; at most 64), got "my-net"');
  });
});

describe('shape inference', () => {
  it('dense maps [n] to [units]', () => {
    const net = pipe(input([784]), dense(100), dense(10));
    expect(net.shapes).toEqual([[100], [10]]);
    expect(net.last).toBe('dense');
    expect(net.layers[0]).toEqual({ kind: 'dense', units: 100, weightDensity: 1, dropconnect: 0, bias: true });
  });

  it('conv2d with the defaults (stride 1, no padding)', () => {
    const net = pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 }));
    expect(net.shapes).toEqual([[32, 24, 24]]);
    expect(net.layers[0]).toEqual({ kind: 'conv2d', filters: 32, kernel: 5, stride: 1, padding: 0, weightDensity: 1, dropconnect: 0, bias: true });
  });

  it.each([
    // [input, filters, kernel, stride, padding, expected]
    [[1, 28, 28], 8, 3, 1, 1, [8, 28, 28]],
    [[1, 28, 28], 8, 5, 2, 1, [8, 13, 13]], // floor((28 + 2 - 5) / 2) + 1 = 13
    [[3, 32, 32], 16, 3, 2, 0, [16, 15, 15]], // floor(29 / 2) + 1
    [[3, 32, 20], 4, 5, 3, 2, [4, 11, 7]], // non-square input: floor(31/3)+1, floor(19/3)+1
    [[2, 5, 5], 1, 5, 1, 0, [1, 1, 1]], // kernel exactly the input
    [[2, 5, 5], 1, 1, 10, 0, [1, 1, 1]], // stride larger than the input
    [[1, 1, 1], 2, 3, 1, 1, [2, 1, 1]], // padding makes the kernel fit
  ])('conv2d on %j: filters %i, kernel %i, stride %i, padding %i -> %j', (shape, filters, kernel, stride, padding, expected) => {
    const net = pipe(input(shape), conv2d({ filters, kernel, stride, padding }));
    expect(net.shapes).toEqual([expected]);
  });

  it.each([
    [[32, 24, 24], 2, [32, 12, 12]],
    [[64, 8, 8], 2, [64, 4, 4]],
    [[3, 7, 9], 2, [3, 3, 4]], // floor
    [[3, 7, 9], 3, [3, 2, 3]],
    [[1, 5, 5], 5, [1, 1, 1]],
    [[1, 5, 5], 1, [1, 5, 5]],
  ])('maxPool2d on %j with size %i -> %j (floor)', (shape, size, expected) => {
    expect(pipe(input(shape), maxPool2d(size)).shapes).toEqual([expected]);
  });

  it('flatten is channel-major C x H x W and is a no-op size-wise on vectors', () => {
    expect(pipe(input([64, 4, 4]), flatten).shapes).toEqual([[1024]]);
    expect(pipe(input([3, 5, 7]), flatten).shapes).toEqual([[105]]);
    expect(pipe(input([10]), flatten).shapes).toEqual([[10]]);
    expect(pipe(input([64, 4, 4]), flatten).layers).toEqual([{ kind: 'flatten' }]);
  });

  it('relu, batchNorm, dropout and kwta keep their input shape', () => {
    const img = pipe(input([8, 6, 6]), relu, batchNorm(), dropout(0.25), kwta({ percentOn: 0.1 }), kwta({ k: 2, local: true }));
    expect(img.shapes).toEqual([[8, 6, 6], [8, 6, 6], [8, 6, 6], [8, 6, 6], [8, 6, 6]]);
    const vec = pipe(input([50]), relu, batchNorm({ affine: false }), dropout(0), kwta({ k: 5 }));
    expect(vec.shapes).toEqual([[50], [50], [50], [50]]);
    expect(vec.layers).toEqual([
      { kind: 'relu' },
      { kind: 'batchNorm', affine: false, momentum: 0.1, epsilon: 1e-5 },
      { kind: 'dropout', rate: 0 },
      { kind: 'kwta', k: 5, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false },
    ]);
  });

  it('softmaxCrossEntropy keeps a vector of logits and closes the network', () => {
    const net = pipe(input([4]), dense(3), softmaxCrossEntropy);
    expect(net.shapes).toEqual([[3], [3]]);
    expect(net.last).toBe('softmaxCrossEntropy');
    expect(net.paramCounts).toEqual([15, 0]);
  });

  it("Ahmad & Scheinkman's sparse CNN-2 gets every shape and parameter count right", () => {
    const net = pipe(
      input([1, 28, 28]),
      conv2d({ filters: 32, kernel: 5 }),
      maxPool2d(2),
      kwta({ k: 400 }),
      boost({}),
      conv2d({ filters: 64, kernel: 5 }),
      maxPool2d(2),
      kwta({ k: 300 }),
      boost({}),
      flatten,
      dense(700),
      sparse(0.3),
      kwta({ k: 100 }),
      boost({}),
      dense(10),
      softmaxCrossEntropy,
    );
    expect(net.shapes).toEqual([
      [32, 24, 24],
      [32, 12, 12],
      [32, 12, 12],
      [64, 8, 8],
      [64, 4, 4],
      [64, 4, 4],
      [1024],
      [700],
      [700],
      [10],
      [10],
    ]);
    expect(net.layers.map((l) => l.kind)).toEqual([
      'conv2d', 'maxPool2d', 'kwta', 'conv2d', 'maxPool2d', 'kwta', 'flatten', 'dense', 'kwta', 'dense', 'softmaxCrossEntropy',
    ]);
    // 32*25+32, 64*32*25+64, 700*1024+700, 10*700+10
    expect(net.paramCounts).toEqual([832, 0, 0, 51264, 0, 0, 0, 717500, 0, 7010, 0]);
    expect(sizesOf(net, 2)).toEqual({ n: 4608, groups: 1, k: 400, kInference: 600, dutyCycles: 32 });
    expect(sizesOf(net, 5)).toEqual({ n: 1024, groups: 1, k: 300, kInference: 450, dutyCycles: 64 });
    expect(sizesOf(net, 8)).toEqual({ n: 700, groups: 1, k: 100, kInference: 150, dutyCycles: 700 });
    expect((net.layers[2] as KwtaLayer).boost).toEqual(defaultBoost);
    expect(nonzeroOf(net, 7)).toBe(700 * 307 + 700);
  });
});

describe('parameter counts', () => {
  it('dense: units x fan_in + units (bias), or without bias', () => {
    expect(pipe(input([784]), dense(1000)).paramCounts).toEqual([785000]);
    expect(pipe(input([4]), dense(10, { bias: false })).paramCounts).toEqual([40]);
    expect(pipe(input([4]), dense(10, { bias: false })).layers[0]).toMatchObject({ bias: false });
  });

  it('conv2d: filters x (c x k x k) + filters, independent of stride and padding', () => {
    expect(pipe(input([3, 32, 32]), conv2d({ filters: 16, kernel: 3 })).paramCounts).toEqual([16 * 27 + 16]);
    expect(pipe(input([3, 32, 32]), conv2d({ filters: 16, kernel: 3, stride: 2, padding: 1 })).paramCounts).toEqual([448]);
    expect(pipe(input([3, 32, 32]), conv2d({ filters: 16, kernel: 3, bias: false })).paramCounts).toEqual([432]);
  });

  it('batchNorm: 2 per feature (vector) or per channel (image) when affine, 0 otherwise', () => {
    expect(pipe(input([100]), batchNorm()).paramCounts).toEqual([200]);
    expect(pipe(input([32, 24, 24]), batchNorm()).paramCounts).toEqual([64]);
    expect(pipe(input([32, 24, 24]), batchNorm({ affine: false })).paramCounts).toEqual([0]);
  });

  it('layers without weights have 0 parameters', () => {
    const net = pipe(input([2, 8, 8]), relu, maxPool2d(2), kwta({ k: 3 }), dropout(0.5), flatten, softmaxCrossEntropy);
    expect(net.paramCounts).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('sparse(0.3) on dense 700 with 1024 inputs keeps round(307.2) = 307 weights per unit', () => {
    const net = pipe(input([1024]), dense(700), sparse(0.3));
    expect(net.layers).toEqual([{ kind: 'dense', units: 700, weightDensity: 0.3, dropconnect: 0, bias: true }]);
    expect(keptInputsPerUnit(0.3, 1024)).toBe(307);
    expect(denseRule.params(net.layers[0] as any, [1024])).toEqual({ params: 717500, nonzero: 700 * 307 + 700 });
    expect(nonzeroOf(net, 0)).toBe(215600);
    // paramCounts is the size of the weight tensor (what limits are checked against), mask or not
    expect(net.paramCounts).toEqual([717500]);
    expect(net.shapes).toEqual([[700]]);
  });

  it('sparse on conv2d: fan_in is c x k x k, half-even per filter', () => {
    const net = pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 }), sparse(0.5));
    // 0.5 x 25 = 12.5 -> 12 (half to even)
    expect(conv2dRule.params(net.layers[0] as any, [1, 28, 28])).toEqual({ params: 832, nonzero: 32 * 12 + 32 });
    const net2 = pipe(input([32, 12, 12]), conv2d({ filters: 64, kernel: 5, bias: false }), sparse(0.3));
    // 0.3 x 800 = 240
    expect(nonzeroOf(net2, 0)).toBe(64 * 240);
    expect(net2.paramCounts).toEqual([51200]);
  });

  it.each([
    [0.5, 5, 2], // 2.5 -> 2
    [0.5, 7, 4], // 3.5 -> 4
    [0.5, 9, 4], // 4.5 -> 4
    [0.25, 6, 2], // 1.5 -> 2
    [0.25, 10, 2], // 2.5 -> 2
    [0.1, 25, 2], // 2.5 -> 2
    [0.3, 5, 2], // 1.5 -> 2
    [0.3, 1024, 307],
    [0.5, 784, 392],
    [0.001, 10, 1], // round(0.01) = 0, but at least one input is kept
    [1, 13, 13],
    [0.99, 10, 10], // 9.9 -> 10
  ])('a unit with density %f and fan_in %i keeps %i inputs', (density, fanIn, kept) => {
    expect(keptInputsPerUnit(density, fanIn)).toBe(kept);
    const net = pipe(input([fanIn]), dense(3, { bias: false }), sparse(density));
    expect(nonzeroOf(net, 0)).toBe(3 * kept);
    expect(net.paramCounts).toEqual([3 * fanIn]);
  });

  it('roundHalfEven is Python round()', () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.5, 307.2, 307.5, 308.5, 2.4999, 2.5001, 0, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 4, 307, 308, 308, 2, 3, 0, 7]);
  });

  it('dropconnect only sets the rate; the parameter count is unchanged', () => {
    const net = pipe(input([10]), dense(5), dropconnect(0.2), sparse(0.5));
    expect(net.layers).toEqual([{ kind: 'dense', units: 5, weightDensity: 0.5, dropconnect: 0.2, bias: true }]);
    expect(net.paramCounts).toEqual([55]);
    expect(net.shapes).toEqual([[5]]);
    const conv = pipe(input([1, 6, 6]), conv2d({ filters: 2, kernel: 3 }), dropconnect(0.5));
    expect(conv.layers[0]).toMatchObject({ kind: 'conv2d', dropconnect: 0.5, weightDensity: 1 });
    expect(conv.last).toBe('conv2d');
  });

  it('modifiers replace the last layer without adding one, keeping earlier layers intact', () => {
    const net = pipe(input([20]), dense(10, { name: 'h1' }), relu, dense(8), sparse(0.5), sparse(0.25));
    expect(net.layers).toHaveLength(3);
    expect(net.shapes).toEqual([[10], [10], [8]]);
    expect(net.paramCounts).toEqual([210, 0, 88]);
    expect(net.layers[2]).toMatchObject({ weightDensity: 0.25 });
    expect(net.layers[0]).toEqual({ kind: 'dense', units: 10, weightDensity: 1, dropconnect: 0, bias: true, name: 'h1' });
    expect(net.last).toBe('dense');
  });

  it('networks are immutable values: building on one does not change it', () => {
    const base = pipe(input([10]), dense(5));
    const a = pipe(base, sparse(0.5));
    const b = pipe(base, relu);
    expect(base.layers).toEqual([{ kind: 'dense', units: 5, weightDensity: 1, dropconnect: 0, bias: true }]);
    expect(base.shapes).toEqual([[5]]);
    expect(a.layers[0]).toMatchObject({ weightDensity: 0.5 });
    expect(b.layers).toHaveLength(2);
  });
});

describe('k-winners sizes', () => {
  it.each([
    // [n, percentOn, k] with Python's round (half to even)
    [1000, 0.1, 100],
    [100, 0.025, 2], // 2.5 -> 2
    [100, 0.035, 4], // 3.5000000000000004 -> 4
    [10, 0.15, 2], // 1.5 -> 2
    [10, 0.25, 2], // 2.5 -> 2
    [10, 0.45, 4], // 4.5 -> 4
    [10, 0.55, 6], // 5.5 -> 6
    [4608, 0.0868, 400], // 399.97 -> 400
    [700, 0.3, 210],
    [3, 0.5, 2], // 1.5 -> 2
    [7, 0.5, 4], // 3.5 -> 4
  ])('n = %i, percentOn = %f -> k = %i', (n, percentOn, k) => {
    const net = pipe(input([n]), kwta({ percentOn, kInferenceFactor: 1 }));
    expect(sizesOf(net, 0)).toEqual({ n, groups: 1, k, kInference: k, dutyCycles: n });
  });

  it.each([
    // [n, k, factor, kInference]
    [1000, 100, 1.5, 150],
    [4608, 400, 1.5, 600],
    [1024, 300, 1.5, 450],
    [100, 3, 1.5, 4], // floor(4.5)
    [100, 5, 1.5, 7], // floor(7.5)
    [100, 29, 1, 29],
    [100, 7, 1.1, 7], // floor(7.7)
    [100, 10, 1.1, 11], // floor(11.000000000000002)
    [100, 3, 1.3, 3], // floor(3.9)
    [10, 5, 2, 10],
  ])('n = %i, k = %i, kInferenceFactor = %f -> kInference = %i', (n, k, factor, kInference) => {
    expect(inferenceK(k, factor)).toBe(kInference);
    const net = pipe(input([n]), kwta({ k, kInferenceFactor: factor }));
    expect(sizesOf(net, 0)).toEqual({ n, groups: 1, k, kInference, dutyCycles: n });
  });

  it('inference k is floor(k x 1.5) by default, computed on the rounded k', () => {
    // k = round(0.1 x 25) = round(2.5) = 2 -> floor(3) = 3
    const net = pipe(input([25]), kwta({ percentOn: 0.1 }));
    expect(sizesOf(net, 0)).toEqual({ n: 25, groups: 1, k: 2, kInference: 3, dutyCycles: 25 });
    expect(net.layers[0]).toEqual({ kind: 'kwta', percentOn: 0.1, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false });
  });

  it('global kwta on a feature map chooses from C x H x W; duty cycles per channel', () => {
    const net = pipe(input([32, 12, 12]), kwta({ percentOn: 0.1 }));
    // round(460.8) = 461, floor(691.5) = 691
    expect(sizesOf(net, 0)).toEqual({ n: 4608, groups: 1, k: 461, kInference: 691, dutyCycles: 32 });
  });

  it('local kwta chooses over channels at each of H x W positions', () => {
    const net = pipe(input([8, 4, 5]), kwta({ percentOn: 0.25, local: true, breakTies: true, relu: true }));
    expect(sizesOf(net, 0)).toEqual({ n: 8, groups: 20, k: 2, kInference: 3, dutyCycles: 8 });
    expect(net.layers[0]).toEqual({ kind: 'kwta', percentOn: 0.25, kInferenceFactor: 1.5, local: true, breakTies: true, relu: true });
    const byK = pipe(input([16, 3, 3]), kwta({ k: 4, local: true }));
    expect(sizesOf(byK, 0)).toEqual({ n: 16, groups: 9, k: 4, kInference: 6, dutyCycles: 16 });
  });

  it('boost sets the given settings over the defaults', () => {
    const net = pipe(input([100]), kwta({ k: 5, name: 'kw' }), boost({ strength: 2, dutyCyclePeriod: 50 }));
    expect(net.layers[0]).toEqual({
      kind: 'kwta',
      k: 5,
      kInferenceFactor: 1.5,
      local: false,
      breakTies: false,
      relu: false,
      name: 'kw',
      boost: { strength: 2, strengthFactor: 0.85, dutyCyclePeriod: 50 },
    });
    expect(defaultBoost).toEqual({ strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 });
    expect(net.last).toBe('kwta');
    expect(net.layers).toHaveLength(1);
    expect(pipe(input([100]), kwta({ k: 5 }), boost({ strength: 0, strengthFactor: 0 })).layers[0]).toMatchObject({
      boost: { strength: 0, strengthFactor: 0, dutyCyclePeriod: 1000 },
    });
  });
});

describe('shape errors name the layer index, kind and shapes', () => {
  it('dense after conv2d without flatten', () => {
    expectShapeError(
      () => pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 }), dense(10)),
      1,
      'dense',
      'layer 1 (dense): expects a vector input [n], got [32, 24, 24] (add flatten before it)',
    );
  });

  it('dense directly on an image input', () => {
    expectShapeError(() => pipe(input([1, 28, 28]), dense(10)), 0, 'dense', 'layer 0 (dense): expects a vector input [n], got [1, 28, 28] (add flatten before it)');
  });

  it('conv2d and maxPool2d on a vector', () => {
    expectShapeError(() => pipe(input([784]), dense(100), conv2d({ filters: 2, kernel: 3 })), 1, 'conv2d', 'layer 1 (conv2d): expects an image input [c, h, w], got [100]');
    expectShapeError(() => pipe(input([784]), relu, relu, maxPool2d(2)), 2, 'maxPool2d', 'layer 2 (maxPool2d): expects an image input [c, h, w], got [784]');
  });

  it('conv2d kernel bigger than the input (with and without padding)', () => {
    expectShapeError(
      () => pipe(input([1, 4, 4]), conv2d({ filters: 2, kernel: 5 })),
      0,
      'conv2d',
      'layer 0 (conv2d): kernel 5x5 with padding 0 does not fit input [1, 4, 4]',
    );
    expectShapeError(
      () => pipe(input([1, 28, 28]), conv2d({ filters: 4, kernel: 5 }), maxPool2d(4), conv2d({ filters: 2, kernel: 9, padding: 1 })),
      2,
      'conv2d',
      'layer 2 (conv2d): kernel 9x9 with padding 1 does not fit input [4, 6, 6]',
    );
    // only one side too small
    expectShapeError(
      () => pipe(input([1, 10, 3]), conv2d({ filters: 2, kernel: 4 })),
      0,
      'conv2d',
      'layer 0 (conv2d): kernel 4x4 with padding 0 does not fit input [1, 10, 3]',
    );
    // padding makes it fit: (4 + 2 - 5) / 1 + 1 = 2
    expect(pipe(input([1, 4, 4]), conv2d({ filters: 2, kernel: 5, padding: 1 })).shapes).toEqual([[2, 2, 2]]);
  });

  it('maxPool2d window bigger than the input', () => {
    expectShapeError(() => pipe(input([3, 4, 4]), maxPool2d(5)), 0, 'maxPool2d', 'layer 0 (maxPool2d): window 5x5 does not fit input [3, 4, 4]');
    expectShapeError(() => pipe(input([3, 8, 2]), maxPool2d(3)), 0, 'maxPool2d', 'layer 0 (maxPool2d): window 3x3 does not fit input [3, 8, 2]');
  });

  it('k greater than n', () => {
    expectShapeError(() => pipe(input([20]), dense(10), kwta({ k: 11 })), 1, 'kwta', 'layer 1 (kwta): k = 11 exceeds the 10 units it chooses from (input [10])');
    expectShapeError(
      () => pipe(input([8, 4, 4]), kwta({ k: 9, local: true })),
      0,
      'kwta',
      'layer 0 (kwta): k = 9 exceeds the 8 units it chooses from (input [8, 4, 4])',
    );
  });

  it('k at inference greater than n', () => {
    expectShapeError(
      () => pipe(input([10]), relu, kwta({ k: 8 })),
      1,
      'kwta',
      'layer 1 (kwta): k at inference = floor(8 x 1.5) = 12 exceeds the 10 units it chooses from',
    );
    // percentOn x factor <= 1 but the rounded k overflows: k = round(1.5) = 2, floor(2 x 2) = 4 > 3
    expectShapeError(
      () => pipe(input([3]), kwta({ percentOn: 0.5, kInferenceFactor: 2 })),
      0,
      'kwta',
      'layer 0 (kwta): k at inference = floor(2 x 2) = 4 exceeds the 3 units it chooses from',
    );
  });

  it('percentOn that rounds to k = 0', () => {
    expectShapeError(() => pipe(input([10]), kwta({ percentOn: 0.05 })), 0, 'kwta', 'layer 0 (kwta): percentOn 0.05 of 10 units gives k = 0');
  });

  it('local kwta on a vector', () => {
    expectShapeError(
      () => pipe(input([784]), dense(100), relu, kwta({ percentOn: 0.1, local: true })),
      2,
      'kwta',
      'layer 2 (kwta): local k-winners needs an image input [c, h, w], got [100]',
    );
  });

  it('softmaxCrossEntropy on a feature map', () => {
    expectShapeError(
      () => pipe(input([1, 4, 4]), relu, softmaxCrossEntropy),
      1,
      'softmaxCrossEntropy',
      'layer 1 (softmaxCrossEntropy): expects a vector of logits [classes], got [1, 4, 4] (add flatten and dense before it)',
    );
  });

  it('anything after softmaxCrossEntropy (type error; still refused at run time)', () => {
    const head = pipe(input([4]), dense(3), softmaxCrossEntropy) as Network<any>;
    expectShapeError(() => dense(2)(head), 2, 'dense', 'layer 2 (dense): nothing may follow the softmaxCrossEntropy head');
    expectShapeError(() => relu(head), 2, 'relu', 'layer 2 (relu): nothing may follow the softmaxCrossEntropy head');
    expectShapeError(() => softmaxCrossEntropy(head), 2, 'softmaxCrossEntropy', 'layer 2 (softmaxCrossEntropy): nothing may follow the softmaxCrossEntropy head');
    expectShapeError(() => kwta({ k: 1 })(head), 2, 'kwta', 'layer 2 (kwta): nothing may follow the softmaxCrossEntropy head');
  });

  it('a modifier re-checks the layer it modifies under that layer index', () => {
    // boost re-appends the kwta layer at its own index, after the relu
    const net = pipe(input([10]), relu, kwta({ k: 6, kInferenceFactor: 1 }), boost({}));
    expect(net.layers).toHaveLength(2);
    expect(sizesOf(net, 1)).toEqual({ n: 10, groups: 1, k: 6, kInference: 6, dutyCycles: 10 });
  });

  it('a modifier with no layer to modify', () => {
    expectShapeError(() => (sparse(0.5) as any)(input([4])), undefined, undefined, 'network: sparse applies to the dense or conv2d layer before it, not to the input');
    expectShapeError(() => (dropconnect(0.5) as any)(input([4])), undefined, undefined, 'network: dropconnect applies to the dense or conv2d layer before it, not to the input');
    expectShapeError(() => (boost({}) as any)(input([4])), undefined, undefined, 'network: boost applies to the kwta layer before it, not to the input');
  });

  it('a modifier after the wrong kind of layer (plain JavaScript callers)', () => {
    expectShapeError(() => (boost({}) as any)(pipe(input([4]), dense(3))), 0, 'dense', 'layer 0 (dense): boost applies to the kwta layer before it, not to a dense layer');
    expectShapeError(() => (sparse(0.5) as any)(pipe(input([4]), relu)), 0, 'relu', 'layer 0 (relu): sparse applies to the dense or conv2d layer before it, not to a relu layer');
  });

  it('every layer output obeys the dimension limit, not only the input', () => {
    expectShapeError(() => pipe(input([1]), dense(100_000)), 0, 'dense', 'layer 0 (dense): output [100000] has a dimension over the limit of 65536');
  });
});

describe('limits', () => {
  it('are the documented values', () => {
    expect(limits).toEqual({ maxLayers: 256, maxDimension: 65536, maxParams: 67108864, maxActivations: 4194304 });
  });

  it('a dense(65536) stack is refused by the parameter limit, without allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    expectShapeError(
      () => pipe(input([65536]), dense(65536), dense(65536)),
      undefined,
      undefined,
      'network: 4295032832 parameters exceed the limit of 67108864',
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    // a 2^32-weight float32 tensor would be 16 GiB; nothing near that was allocated
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('the parameter limit is a sum over layers, and exactly the limit is allowed', () => {
    // 8191 x 8192 + 8191 ... choose sizes that hit 2^26 exactly: dense(1023) on [65535]? use bias: false
    const atLimit = pipe(input([8192]), dense(8192, { bias: false }));
    expect(atLimit.paramCounts).toEqual([limits.maxParams]);
    expectShapeError(
      () => pipe(input([8192]), dense(8192, { bias: false }), dense(1, { bias: false })),
      undefined,
      undefined,
      'network: 67117056 parameters exceed the limit of 67108864',
    );
  });

  it('the activation limit counts the input and every layer output', () => {
    expectShapeError(
      () => pipe(input([64, 256, 256]), relu),
      undefined,
      undefined,
      'network: 8388608 activations per sample exceed the limit of 4194304',
    );
    // 2^21 input + 2^21 relu = 2^22: allowed; one more layer is not
    const ok = pipe(input([32, 256, 256]), relu);
    expect(ok.shapes).toEqual([[32, 256, 256]]);
    expectShapeError(
      () => pipe(ok, relu),
      undefined,
      undefined,
      'network: 6291456 activations per sample exceed the limit of 4194304',
    );
  });

  it('the layer limit', () => {
    let net: Network<any> = input([1]);
    for (let i = 0; i < limits.maxLayers; i++) net = relu(net);
    expect(net.layers).toHaveLength(256);
    expectShapeError(() => relu(net), undefined, undefined, 'network: 257 layers exceed the limit of 256');
  });
});

describe('invalid combinator arguments are refused when the combinator is made', () => {
  it.each<[string, () => unknown, string]>([
    ['dense(0)', () => dense(0), 'dense: units: must be a positive integer, got 0'],
    ['dense(-3)', () => dense(-3), 'dense: units: must be a positive integer, got -3'],
    ['dense(2.5)', () => dense(2.5), 'dense: units: must be a positive integer, got 2.5'],
    ['conv2d filters 0', () => conv2d({ filters: 0, kernel: 3 }), 'conv2d: filters: must be a positive integer, got 0'],
    ['conv2d kernel 0', () => conv2d({ filters: 1, kernel: 0 }), 'conv2d: kernel: must be a positive integer, got 0'],
    ['conv2d stride 0', () => conv2d({ filters: 1, kernel: 3, stride: 0 }), 'conv2d: stride: must be a positive integer, got 0'],
    ['conv2d padding -1', () => conv2d({ filters: 1, kernel: 3, padding: -1 }), 'conv2d: padding: must be a non-negative integer, got -1'],
    ['conv2d padding 0.5', () => conv2d({ filters: 1, kernel: 3, padding: 0.5 }), 'conv2d: padding: must be a non-negative integer, got 0.5'],
    ['maxPool2d(0)', () => maxPool2d(0), 'maxPool2d: size: must be a positive integer, got 0'],
    ['kwta percentOn 1.2', () => kwta({ percentOn: 1.2 }), 'kwta: percentOn: must be in (0, 1), got 1.2'],
    ['kwta percentOn 0', () => kwta({ percentOn: 0 }), 'kwta: percentOn: must be in (0, 1), got 0'],
    ['kwta percentOn 1', () => kwta({ percentOn: 1 }), 'kwta: percentOn: must be in (0, 1), got 1'],
    [
      'kwta percentOn 0.8 x factor 1.5',
      () => kwta({ percentOn: 0.8, kInferenceFactor: 1.5 }),
      'kwta: percentOn x kInferenceFactor must be <= 1, got 0.8 x 1.5 = 1.2000000000000002',
    ],
    [
      'kwta percentOn 0.7 x default factor',
      () => kwta({ percentOn: 0.7 }),
      'kwta: percentOn x kInferenceFactor must be <= 1, got 0.7 x 1.5 = 1.0499999999999998',
    ],
    ['kwta k 0', () => kwta({ k: 0 }), 'kwta: k: must be a positive integer, got 0'],
    ['kwta k 2.5', () => kwta({ k: 2.5 }), 'kwta: k: must be a positive integer, got 2.5'],
    ['kwta kInferenceFactor 0.5', () => kwta({ k: 3, kInferenceFactor: 0.5 }), 'kwta: kInferenceFactor: must be a finite number >= 1, got 0.5'],
    ['kwta both percentOn and k', () => kwta({ percentOn: 0.1, k: 3 } as any), 'kwta: exactly one of percentOn and k must be given'],
    ['kwta neither percentOn nor k', () => kwta({} as any), 'kwta: exactly one of percentOn and k must be given'],
    ['sparse(0)', () => sparse(0), 'sparse: weightDensity: must be in (0, 1], got 0'],
    ['sparse(1.01)', () => sparse(1.01), 'sparse: weightDensity: must be in (0, 1], got 1.01'],
    ['sparse(-0.5)', () => sparse(-0.5), 'sparse: weightDensity: must be in (0, 1], got -0.5'],
    ['dropout(1)', () => dropout(1), 'dropout: rate: must be in [0, 1), got 1'],
    ['dropout(-0.1)', () => dropout(-0.1), 'dropout: rate: must be in [0, 1), got -0.1'],
    ['dropconnect(1)', () => dropconnect(1), 'dropconnect: rate: must be in [0, 1), got 1'],
    ['boost strengthFactor 2', () => boost({ strengthFactor: 2 }), 'boost: strengthFactor: must be in [0, 1], got 2'],
    ['boost strength -1', () => boost({ strength: -1 }), 'boost: strength: must be a finite number >= 0, got -1'],
    ['boost dutyCyclePeriod 0', () => boost({ dutyCyclePeriod: 0 }), 'boost: dutyCyclePeriod: must be a positive integer, got 0'],
    ['batchNorm momentum 0', () => batchNorm({ momentum: 0 }), 'batchNorm: momentum: must be in (0, 1], got 0'],
    ['batchNorm epsilon 0', () => batchNorm({ epsilon: 0 }), 'batchNorm: epsilon: must be a finite number > 0, got 0'],
    ['withTraining lr 0', () => withTraining({ lr: 0 }), 'training.lr: must be a finite number > 0, got 0'],
    ['withTraining epochs 1.5', () => withTraining({ epochs: 1.5 }), 'training.epochs: must be a positive integer, got 1.5'],
    ['withTraining momentum 1', () => withTraining({ momentum: 1 }), 'training.momentum: must be in [0, 1), got 1'],
    ['withTraining lrGamma 0', () => withTraining({ lrGamma: 0 }), 'training.lrGamma: must be in (0, 1], got 0'],
    ['withTraining weightDecay -1', () => withTraining({ weightDecay: -1 }), 'training.weightDecay: must be a finite number >= 0, got -1'],
    ['withTraining unknown field', () => withTraining({ epochz: 3 } as any), 'training.epochz: unknown field'],
  ])('%s', (_label, f, message) => {
    expectWinnowError(f, 'model', message);
  });

  it('non-finite numbers are refused', () => {
    expect(() => dense(NaN)).toThrow(/^dense: units: must be a positive integer, got /);
    expect(() => boost({ strength: Infinity })).toThrow(/^boost: strength: must be a finite number >= 0, got /);
    expect(() => sparse(NaN)).toThrow(/^sparse: weightDensity: must be in \(0, 1\], got /);
    expect(() => kwta({ percentOn: NaN })).toThrow(/^kwta: percentOn: must be in \(0, 1\), got /);
  });

  it('edge values that are valid', () => {
    expect(pipe(input([4]), dense(1), sparse(1)).layers[0]).toMatchObject({ weightDensity: 1 });
    expect(pipe(input([4]), dropout(0)).layers[0]).toEqual({ kind: 'dropout', rate: 0 });
    expect(pipe(input([4]), dense(2), dropconnect(0)).layers[0]).toMatchObject({ dropconnect: 0 });
    expect(pipe(input([10]), kwta({ percentOn: 0.5, kInferenceFactor: 2 })).layers[0]).toMatchObject({ percentOn: 0.5, kInferenceFactor: 2 });
    expect(pipe(input([10]), kwta({ k: 1 }), boost({ strengthFactor: 1 })).layers[0]).toMatchObject({ boost: { strengthFactor: 1 } });
    expect(pipe(input([4]), batchNorm({ momentum: 1 })).layers[0]).toMatchObject({ momentum: 1 });
  });

  describe('names must be identifiers', () => {
    const long64 = 'a'.repeat(64);
    const long65 = 'a'.repeat(65);

    it.each(['a', '_', 'A1_b', 'conv_1', long64])('accepts %s', (name) => {
      expect(pipe(input([4], { name }), dense(2, { name }), named(name)).name).toBe(name);
      expect(pipe(input([4]), dense(2, { name })).layers[0].name).toBe(name);
    });

    it.each(['', '1a', 'a-b', 'a b', 'é', 'a.b', long65])('rejects %j', (name) => {
      const msg = (where: string) => `${where}: name: must be an identifier (a letter or _, then letters, digits or _; at most 64), got ${JSON.stringify(name)}`;
      expectWinnowError(() => named(name)(input([4])), 'model', msg('network'));
      expectWinnowError(() => pipe(input([4]), dense(2, { name })), 'model', msg('layer 0 (dense)'));
      expectWinnowError(() => pipe(input([4]), relu, dropout(0.1, { name })), 'model', msg('layer 1 (dropout)'));
      expectWinnowError(() => pipe(input([1, 4, 4]), conv2d({ filters: 1, kernel: 1, name })), 'model', msg('layer 0 (conv2d)'));
      expectWinnowError(() => pipe(input([1, 4, 4]), maxPool2d(2, { name })), 'model', msg('layer 0 (maxPool2d)'));
      expectWinnowError(() => pipe(input([4]), kwta({ k: 1, name })), 'model', msg('layer 0 (kwta)'));
      expectWinnowError(() => pipe(input([4]), batchNorm({ name })), 'model', msg('layer 0 (batchNorm)'));
      expectWinnowError(() => input([4], { name }), 'model', msg('input'));
    });
  });
});

describe('named and withTraining', () => {
  it('attach a name and merge training defaults', () => {
    const net = pipe(input([4]), dense(2), softmaxCrossEntropy, named('tiny'), withTraining({ lr: 0.02, epochs: 10 }), withTraining({ epochs: 3, momentum: 0.9 }));
    expect(net.name).toBe('tiny');
    expect(net.training).toEqual({ lr: 0.02, epochs: 3, momentum: 0.9 });
    expect(net.last).toBe('softmaxCrossEntropy');
    expect(net.shapes).toEqual([[2], [2]]);
  });
});

// withTraining must look fields up as own properties: Object.prototype members are unknown fields.
describe('withTraining with a key named like an Object.prototype member', () => {
  it('is refused with a WinnowError', () => {
    expectWinnowError(() => withTraining({ toString: 1 } as any), 'model', 'training.toString: unknown field');
  });
});
