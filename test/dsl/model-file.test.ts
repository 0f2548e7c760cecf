import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundHalfEven } from '../../dsl/density.ts';
import {
  batchNorm,
  boost,
  conv2d,
  decodeModel,
  dense,
  dropconnect,
  dropout,
  flatten,
  input,
  kwta,
  kwtaSizes,
  limits,
  maxPool2d,
  modelFormat,
  modelFromJSON,
  modelToJSON,
  named,
  outputShape,
  readModelFile,
  relu,
  softmaxCrossEntropy,
  sparse,
  withTraining,
  WinnowError,
  type KwtaLayer,
  type KwtaOptions,
  type Network,
  type TrainingDefaults,
} from '../../dsl/index.ts';
import { thrown } from './helpers.ts';

const KINDS = 'dense, conv2d, maxPool2d, flatten, relu, batchNorm, kwta, dropout, softmaxCrossEntropy';
const oneKind = (got: string) => `must be an object with one layer kind as its only key (one of ${KINDS}), got ${got}`;
const IDENT = 'must be an identifier (a letter or _, then letters, digits or _; at most 64), got';

/** The problems of a file that must be rejected. */
const problemsOf = (json: unknown): ReadonlyArray<string> => {
  const r = decodeModel(json);
  if (E.isRight(r)) throw new Error(`expected the model to be rejected: ${JSON.stringify(json)}`);
  return r.left;
};

/** The network of a file that must be accepted. */
const netOf = (json: unknown): Network => {
  const r = decodeModel(json);
  if (E.isLeft(r)) throw new Error(`expected the model to be accepted, got:\n${r.left.join('\n')}`);
  return r.right;
};


describe('decodeModel: valid files', () => {
  it('decodes a minimal file through the DSL (defaults filled in)', () => {
    const net = netOf({ input: [4], layers: [{ dense: { units: 2 } }, { softmaxCrossEntropy: {} }] });
    expect(net).toEqual(pipe(input([4]), dense(2), softmaxCrossEntropy));
    expect(net.shapes).toEqual([[2], [2]]);
    expect(net.paramCounts).toEqual([10, 0]);
    expect(modelToJSON(net).layers[0]).toEqual({ dense: { units: 2, weightDensity: 1, dropconnect: 0, bias: true } });
  });

  it('decodes the documented sparse MLP with modifiers, boost and training defaults', () => {
    const net = netOf({
      format: 'winnow.model/1',
      name: 'sparse_mlp',
      description: 'anything',
      input: [784],
      layers: [
        { dense: { units: 1000, weightDensity: 0.5 } },
        { kwta: { percentOn: 0.1, boost: { strength: 1.5 } } },
        { dense: { units: 10, dropconnect: 0.2, bias: false } },
        { softmaxCrossEntropy: {} },
      ],
      training: { lr: 0.01, epochs: 3 },
    });
    const expected = pipe(
      input([784]),
      dense(1000),
      sparse(0.5),
      kwta({ percentOn: 0.1 }),
      boost({ strength: 1.5 }),
      dense(10, { bias: false }),
      dropconnect(0.2),
      softmaxCrossEntropy,
      named('sparse_mlp'),
      withTraining({ lr: 0.01, epochs: 3 }),
    );
    expect(net).toEqual(expected);
    expect(net.layers[1]).toEqual({
      kind: 'kwta',
      percentOn: 0.1,
      kInferenceFactor: 1.5,
      local: false,
      breakTies: false,
      relu: false,
      boost: { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 },
    });
    expect(net.paramCounts).toEqual([785000, 0, 10000, 0]);
    expect(net.training).toEqual({ lr: 0.01, epochs: 3 });
  });

  it("decodes Ahmad & Scheinkman's sparse CNN-2", () => {
    const b = { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 };
    const net = netOf({
      format: modelFormat,
      input: [1, 28, 28],
      layers: [
        { conv2d: { filters: 32, kernel: 5, stride: 1, padding: 0 } },
        { maxPool2d: { size: 2 } },
        { kwta: { k: 400, kInferenceFactor: 1.5, boost: b } },
        { conv2d: { filters: 64, kernel: 5 } },
        { maxPool2d: { size: 2 } },
        { kwta: { k: 300, boost: b } },
        { flatten: {} },
        { dense: { units: 700, weightDensity: 0.3 } },
        { kwta: { k: 100, boost: b } },
        { dense: { units: 10 } },
        { softmaxCrossEntropy: {} },
      ],
    });
    expect(net.shapes).toEqual([[32, 24, 24], [32, 12, 12], [32, 12, 12], [64, 8, 8], [64, 4, 4], [64, 4, 4], [1024], [700], [700], [10], [10]]);
    expect(net.paramCounts).toEqual([832, 0, 0, 51264, 0, 0, 0, 717500, 0, 7010, 0]);
    expect(net.layers[7]).toEqual({ kind: 'dense', units: 700, weightDensity: 0.3, dropconnect: 0, bias: true });
    expect(kwtaSizes(net.layers[2] as KwtaLayer, net.shapes[1])).toEqual(E.right({ n: 4608, groups: 1, k: 400, kInference: 600, dutyCycles: 32 }));
  });

  it('keeps names on flatten, relu and softmaxCrossEntropy (which the DSL cannot name)', () => {
    const json = {
      input: [1, 4, 4],
      layers: [{ relu: { name: 'r' } }, { flatten: { name: 'f' } }, { dense: { units: 3, name: 'd' } }, { softmaxCrossEntropy: { name: 'out' } }],
    };
    const net = netOf(json);
    expect(net.layers).toEqual([
      { kind: 'relu', name: 'r' },
      { kind: 'flatten', name: 'f' },
      { kind: 'dense', units: 3, weightDensity: 1, dropconnect: 0, bias: true, name: 'd' },
      { kind: 'softmaxCrossEntropy', name: 'out' },
    ]);
    expect(modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(net))))).toEqual(net);
  });

  it('writes every field in modelToJSON', () => {
    const net = pipe(
      input([2, 6, 6], { name: 'n' }),
      conv2d({ filters: 3, kernel: 3, stride: 2, padding: 1 }),
      batchNorm({ affine: false }),
      maxPool2d(2, { name: 'p' }),
      kwta({ k: 2, local: true }),
      flatten,
      dropout(0.25),
      withTraining({ epochs: 2 }),
    );
    expect(modelToJSON(net)).toEqual({
      format: 'winnow.model/1',
      name: 'n',
      input: [2, 6, 6],
      layers: [
        { conv2d: { filters: 3, kernel: 3, stride: 2, padding: 1, weightDensity: 1, dropconnect: 0, bias: true } },
        { batchNorm: { affine: false, momentum: 0.1, epsilon: 1e-5 } },
        { maxPool2d: { size: 2, name: 'p' } },
        { kwta: { k: 2, kInferenceFactor: 1.5, local: true, breakTies: false, relu: false } },
        { flatten: {} },
        { dropout: { rate: 0.25 } },
      ],
      training: { epochs: 2 },
    });
  });
});

describe('decodeModel: every problem at once, with JSON paths', () => {
  it('reports field, tag, root and training problems together, in order', () => {
    const problems = problemsOf({
      format: 'winnow.model/2',
      name: 'my model',
      description: 5,
      input: [2, 3],
      layers: [
        { dense: { units: 0, weightDensity: 1.01, extra: 1 } },
        { kwta: { percentOn: 1.2 } },
        { conv2d: { filters: 2 } },
        { relu: {}, flatten: {} },
        'x',
        { dropout: null },
        { dense: { units: 3 } },
      ],
      training: { lr: 0, epochs: 1.5, bogus: 1 },
      extra: true,
    });
    expect(problems).toEqual([
      'input: must be [n] or [c, h, w] of positive integers <= 65536, got [2,3]',
      'layers[0].dense.units: must be a positive integer, got 0',
      'layers[0].dense.weightDensity: must be in (0, 1], got 1.01',
      'layers[0].dense.extra: unknown field (known: units, weightDensity, dropconnect, bias, name)',
      'layers[1].kwta.percentOn: must be in (0, 1), got 1.2',
      'layers[2].conv2d.kernel: is required',
      `layers[3]: ${oneKind('{"relu":{},"flatten":{}}')}`,
      `layers[4]: ${oneKind('"x"')}`,
      'layers[5].dropout: must be an object, got null',
      'format: must be "winnow.model/1", got "winnow.model/2"',
      `name: ${IDENT} "my model"`,
      'description: invalid value 5',
      'training.epochs: must be a positive integer, got 1.5',
      'training.lr: must be a finite number > 0, got 0',
      'training.bogus: unknown field (known: epochs, batchSize, firstEpochBatchSize, lr, lrGamma, momentum, weightDecay)',
      'extra: unknown field (known: input, layers, format, name, description, training)',
    ]);
  });

  it('uses the documented path format', () => {
    const json = {
      input: [784],
      layers: [{ dense: { units: 100 } }, { relu: {} }, { dense: { units: 50 } }, { kwta: { percentOn: 1.2 } }],
    };
    expect(problemsOf(json)).toEqual(['layers[3].kwta.percentOn: must be in (0, 1), got 1.2']);
  });

  it('missing required fields', () => {
    expect(problemsOf({ input: [4], layers: [{ dense: {} }] })).toEqual(['layers[0].dense.units: is required']);
    expect(problemsOf({ input: [1, 4, 4], layers: [{ conv2d: {} }, { maxPool2d: {} }, { dropout: {} }] })).toEqual([
      'layers[0].conv2d.filters: is required',
      'layers[0].conv2d.kernel: is required',
      'layers[1].maxPool2d.size: is required',
      'layers[2].dropout.rate: is required',
    ]);
    expect(problemsOf({})).toEqual(['input: is required', 'layers: is required']);
  });

  it('unknown fields at every level', () => {
    expect(
      problemsOf({
        input: [8],
        layers: [{ kwta: { k: 2, boost: { strength: 1, speed: 2 }, winners: 3 } }, { relu: { inplace: true } }, { flatten: { x: 1 } }],
        training: { learningRate: 0.1 },
      }),
    ).toEqual([
      'layers[0].kwta.boost.speed: unknown field (known: strength, strengthFactor, dutyCyclePeriod)',
      'layers[0].kwta.winners: unknown field (known: percentOn, k, kInferenceFactor, local, breakTies, relu, boost, name)',
      'layers[1].relu.inplace: unknown field (known: name)',
      'layers[2].flatten.x: unknown field (known: name)',
      'training.learningRate: unknown field (known: epochs, batchSize, firstEpochBatchSize, lr, lrGamma, momentum, weightDecay)',
    ]);
  });

  it('wrong layer tags and entries that are not single-key objects', () => {
    expect(problemsOf({ input: [4], layers: [{ denze: { units: 3 } }, {}, 5, [], { Dense: {} }] })).toEqual([
      `layers[0]: ${oneKind('{"denze":{"units":3}}')}`,
      `layers[1]: ${oneKind('{}')}`,
      `layers[2]: ${oneKind('5')}`,
      `layers[3]: ${oneKind('[]')}`,
      `layers[4]: ${oneKind('{"Dense":{}}')}`,
    ]);
  });

  it('wrong value types', () => {
    expect(
      problemsOf({
        input: [4],
        layers: [
          { dense: { units: '3', bias: 'yes', weightDensity: null } },
          { kwta: { k: true, local: 1 } },
          { batchNorm: { affine: 0, momentum: '0.1' } },
          { relu: [] },
        ],
      }),
    ).toEqual([
      'layers[0].dense.units: must be a positive integer, got "3"',
      'layers[0].dense.weightDensity: must be in (0, 1], got null',
      'layers[0].dense.bias: must be true or false, got "yes"',
      'layers[1].kwta.k: must be a positive integer, got true',
      'layers[1].kwta.local: must be true or false, got 1',
      'layers[2].batchNorm.affine: must be true or false, got 0',
      'layers[2].batchNorm.momentum: must be in (0, 1], got "0.1"',
      'layers[3].relu: must be an object, got []',
    ]);
  });

  it('every numeric rule is checked with the same words as the DSL', () => {
    expect(
      problemsOf({
        input: [1, 8, 8],
        layers: [
          { conv2d: { filters: 1.5, kernel: 0, stride: -1, padding: -1, dropconnect: 1 } },
          { maxPool2d: { size: 0 } },
          { kwta: { percentOn: 0, kInferenceFactor: 0.5, boost: { strength: -1, strengthFactor: 2, dutyCyclePeriod: 0 } } },
          { batchNorm: { momentum: 0, epsilon: 0 } },
          { dropout: { rate: 1 } },
          { dense: { units: 3, weightDensity: 0 } },
        ],
        training: { epochs: 0, batchSize: -1, firstEpochBatchSize: 2.5, lrGamma: 0, momentum: 1, weightDecay: -0.1 },
      }),
    ).toEqual([
      'layers[0].conv2d.filters: must be a positive integer, got 1.5',
      'layers[0].conv2d.kernel: must be a positive integer, got 0',
      'layers[0].conv2d.stride: must be a positive integer, got -1',
      'layers[0].conv2d.padding: must be a non-negative integer, got -1',
      'layers[0].conv2d.dropconnect: must be in [0, 1), got 1',
      'layers[1].maxPool2d.size: must be a positive integer, got 0',
      'layers[2].kwta.percentOn: must be in (0, 1), got 0',
      'layers[2].kwta.kInferenceFactor: must be a finite number >= 1, got 0.5',
      'layers[2].kwta.boost.strength: must be a finite number >= 0, got -1',
      'layers[2].kwta.boost.strengthFactor: must be in [0, 1], got 2',
      'layers[2].kwta.boost.dutyCyclePeriod: must be a positive integer, got 0',
      'layers[3].batchNorm.momentum: must be in (0, 1], got 0',
      'layers[3].batchNorm.epsilon: must be a finite number > 0, got 0',
      'layers[4].dropout.rate: must be in [0, 1), got 1',
      'layers[5].dense.weightDensity: must be in (0, 1], got 0',
      'training.epochs: must be a positive integer, got 0',
      'training.batchSize: must be a positive integer, got -1',
      'training.firstEpochBatchSize: must be a positive integer, got 2.5',
      'training.lrGamma: must be in (0, 1], got 0',
      'training.momentum: must be in [0, 1), got 1',
      'training.weightDecay: must be a finite number >= 0, got -0.1',
    ]);
  });

  it('kwta cross-field rules: exactly one of percentOn and k; percentOn x kInferenceFactor <= 1', () => {
    expect(
      problemsOf({
        input: [100],
        layers: [{ kwta: {} }, { kwta: { k: 1, percentOn: 0.1 } }, { kwta: { percentOn: 0.8 } }, { kwta: { percentOn: 0.5, kInferenceFactor: 2.5 } }],
      }),
    ).toEqual([
      'layers[0].kwta: exactly one of percentOn and k must be given',
      'layers[1].kwta: exactly one of percentOn and k must be given',
      'layers[2].kwta: percentOn x kInferenceFactor must be <= 1, got 0.8 x 1.5 = 1.2000000000000002',
      'layers[3].kwta: percentOn x kInferenceFactor must be <= 1, got 0.5 x 2.5 = 1.25',
    ]);
    // exactly 1 is allowed
    expect(netOf({ input: [10], layers: [{ kwta: { percentOn: 0.5, kInferenceFactor: 2 } }] }).layers[0]).toMatchObject({ percentOn: 0.5, kInferenceFactor: 2 });
  });

  it('names that are not identifiers, at the root and in layers', () => {
    expect(
      problemsOf({
        name: '1net',
        input: [4],
        layers: [{ dense: { units: 2, name: 'a-b' } }, { relu: { name: '' } }, { kwta: { k: 1, name: 7 } }, { dropout: { rate: 0, name: 'x'.repeat(65) } }],
      }),
    ).toEqual([
      `layers[0].dense.name: ${IDENT} "a-b"`,
      `layers[1].relu.name: ${IDENT} ""`,
      `layers[2].kwta.name: ${IDENT} 7`,
      `layers[3].dropout.name: ${IDENT} "${'x'.repeat(57 - 1)}...`,
      `name: ${IDENT} "1net"`,
    ]);
    expect(netOf({ name: 'x'.repeat(64), input: [4], layers: [{ relu: { name: '_9' } }] }).name).toBe('x'.repeat(64));
  });

  it('the root, input and layers themselves', () => {
    expect(problemsOf([1, 2])).toEqual(['(root): must be an object, got [1,2]']);
    expect(problemsOf(null)).toEqual(['(root): must be an object, got null']);
    expect(problemsOf('model')).toEqual(['(root): must be an object, got "model"']);
    expect(problemsOf(undefined)).toEqual(['(root): must be an object, got nothing']);
    expect(decodeModel({ input: [4], layers: [] })._tag).toBe('Right'); // an empty network round-trips like any other
    expect(problemsOf({ input: [4], layers: {} })).toEqual(['layers: must be an array of layers, got {}']);
    expect(problemsOf({ input: 784, layers: [{ relu: {} }] })).toEqual(['input: must be [n] or [c, h, w] of positive integers <= 65536, got 784']);
    expect(problemsOf({ input: [0], layers: [{ relu: {} }] })).toEqual(['input: must be [n] or [c, h, w] of positive integers <= 65536, got [0]']);
    expect(problemsOf({ input: [65537], layers: [{ relu: {} }] })).toEqual([
      'input: must be [n] or [c, h, w] of positive integers <= 65536, got [65537]',
    ]);
  });

  it('shape problems name the layer by its JSON path', () => {
    expect(problemsOf({ input: [1, 28, 28], layers: [{ conv2d: { filters: 32, kernel: 5 } }, { dense: { units: 10 } }] })).toEqual([
      'layers[1].dense: expects a vector input [n], got [32, 24, 24] (add flatten before it)',
    ]);
    expect(problemsOf({ input: [20], layers: [{ dense: { units: 10 } }, { kwta: { k: 11 } }] })).toEqual([
      'layers[1].kwta: k = 11 exceeds the 10 units it chooses from (input [10])',
    ]);
    expect(problemsOf({ input: [10], layers: [{ kwta: { k: 8 } }] })).toEqual([
      'layers[0].kwta: k at inference = floor(8 x 1.5) = 12 exceeds the 10 units it chooses from',
    ]);
    expect(problemsOf({ input: [100], layers: [{ relu: {} }, { kwta: { percentOn: 0.1, local: true } }] })).toEqual([
      'layers[1].kwta: local k-winners needs an image input [c, h, w], got [100]',
    ]);
    expect(problemsOf({ input: [1, 4, 4], layers: [{ conv2d: { filters: 1, kernel: 5 } }] })).toEqual([
      'layers[0].conv2d: kernel 5x5 with padding 0 does not fit input [1, 4, 4]',
    ]);
    expect(problemsOf({ input: [1, 4, 4], layers: [{ maxPool2d: { size: 5 } }] })).toEqual(['layers[0].maxPool2d: window 5x5 does not fit input [1, 4, 4]']);
    expect(problemsOf({ input: [4], layers: [{ dense: { units: 3 } }, { softmaxCrossEntropy: {} }, { dense: { units: 2 } }] })).toEqual([
      'layers[2].dense: nothing may follow the softmaxCrossEntropy head',
    ]);
    expect(problemsOf({ input: [4], layers: [{ softmaxCrossEntropy: {} }, { softmaxCrossEntropy: {} }] })).toEqual([
      'layers[1].softmaxCrossEntropy: nothing may follow the softmaxCrossEntropy head',
    ]);
    expect(problemsOf({ input: [10], layers: [{ kwta: { percentOn: 0.05 } }] })).toEqual(['layers[0].kwta: percentOn 0.05 of 10 units gives k = 0']);
  });

  it('limits: parameters, activations, input size and layer count', () => {
    const t0 = performance.now();
    expect(problemsOf({ input: [65536], layers: [{ dense: { units: 65536 } }, { dense: { units: 65536 } }] })).toEqual([
      'layers: 4295032832 parameters exceed the limit of 67108864',
    ]);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(problemsOf({ input: [64, 256, 256], layers: [{ relu: {} }] })).toEqual(['layers: 8388608 activations per sample exceed the limit of 4194304']);
    expect(problemsOf({ input: [65536, 65536, 1], layers: [{ relu: {} }] })).toEqual(['input: 4294967296 values per sample exceed the limit of 4194304']);
    expect(problemsOf({ input: [1], layers: Array.from({ length: limits.maxLayers + 1 }, () => ({ relu: {} })) })).toEqual([
      'layers: must have at most 256 layers, got 257',
    ]);
    expect(netOf({ input: [1], layers: Array.from({ length: limits.maxLayers }, () => ({ relu: {} })) }).layers).toHaveLength(256);
  });

  it('long values are shortened in messages', () => {
    const long = { a: 'y'.repeat(100) };
    const [p] = problemsOf({ input: [4], layers: [long] });
    expect(p).toBe(`layers[0]: ${oneKind(`${JSON.stringify(long).slice(0, 57)}...`)}`);
  });
});

describe('modelFromJSON', () => {
  it('returns the network of a valid model', () => {
    expect(modelFromJSON({ input: [784], layers: [{ dense: { units: 10 } }, { softmaxCrossEntropy: {} }] }).shapes).toEqual([[10], [10]]);
  });

  it('throws one WinnowError listing every problem', () => {
    const e = thrown(() => modelFromJSON({ input: [4], layers: [{ dense: { units: 0 } }, { kwta: { percentOn: 1.2 } }] }, 'net.json'));
    expect(e).toBeInstanceOf(WinnowError);
    const we = e as WinnowError;
    expect(we.kind).toBe('model');
    expect(we.message).toBe('net.json: 2 problems\n  layers[0].dense.units: must be a positive integer, got 0\n  layers[1].kwta.percentOn: must be in (0, 1), got 1.2');
    expect(we.problems).toEqual(['layers[0].dense.units: must be a positive integer, got 0', 'layers[1].kwta.percentOn: must be in (0, 1), got 1.2']);
  });

  it('says "invalid model" for a single problem and defaults the source to "model"', () => {
    const e = thrown(() => modelFromJSON({ input: [4], layers: [{ dense: {} }] })) as WinnowError;
    expect(e.message).toBe('model: invalid model\n  layers[0].dense.units: is required');
    expect(e.problems).toEqual(['layers[0].dense.units: is required']);
  });
});

describe('readModelFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'winnow-model-file-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads and decodes a file', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ format: modelFormat, name: 'tiny', input: [4], layers: [{ dense: { units: 2 } }, { softmaxCrossEntropy: {} }] }));
    expect(readModelFile(path)).toEqual(pipe(input([4]), dense(2), softmaxCrossEntropy, named('tiny')));
  });

  it('names the file and every problem', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ input: [4], layers: [{ dense: { units: -1 } }, { relu: { x: 1 } }, { dropout: { rate: 1 } }] }));
    const e = thrown(() => readModelFile(path)) as WinnowError;
    expect(e).toBeInstanceOf(WinnowError);
    expect(e.kind).toBe('model');
    expect(e.problems).toEqual([
      'layers[0].dense.units: must be a positive integer, got -1',
      'layers[1].relu.x: unknown field (known: name)',
      'layers[2].dropout.rate: must be in [0, 1), got 1',
    ]);
    expect(e.message).toBe(`${path}: 3 problems\n${e.problems.map((p) => `  ${p}`).join('\n')}`);
  });

  it('a missing file', () => {
    const path = join(dir, 'nope.json');
    const e = thrown(() => readModelFile(path)) as WinnowError;
    expect(e).toBeInstanceOf(WinnowError);
    expect(e.kind).toBe('model');
    expect(e.message).toBe(`${path}: no such file`);
  });

  it('a directory', () => {
    const path = join(dir, 'sub');
    mkdirSync(path);
    const e = thrown(() => readModelFile(path)) as WinnowError;
    expect(e).toBeInstanceOf(WinnowError);
    expect(e.message).toBe(`${path}: is a directory, not a model file`);
  });

  it.each(['{ "input": [4], ', '', '{"input": [4], "layers": [,]}', "{'input': [4]}"])('bad JSON text %j', (text) => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, text);
    const e = thrown(() => readModelFile(path)) as WinnowError;
    expect(e).toBeInstanceOf(WinnowError);
    expect(e.kind).toBe('model');
    let parseMessage = '';
    try {
      JSON.parse(text);
    } catch (err) {
      parseMessage = (err as Error).message;
    }
    expect(e.message).toBe(`${path}: not valid JSON (${parseMessage})`);
  });
});

// Fields are looked up as own properties: names of Object.prototype members are unknown fields.
describe('unknown fields named like Object.prototype members', () => {
  it('are reported like any other unknown field', () => {
    expect(
      problemsOf(JSON.parse('{"input":[4],"layers":[{"dense":{"units":3,"constructor":1,"toString":2}}],"hasOwnProperty":3,"training":{"__proto__":1}}')),
    ).toEqual([
      'layers[0].dense.constructor: unknown field (known: units, weightDensity, dropconnect, bias, name)',
      'layers[0].dense.toString: unknown field (known: units, weightDensity, dropconnect, bias, name)',
      'training.__proto__: unknown field (known: epochs, batchSize, firstEpochBatchSize, lr, lrGamma, momentum, weightDecay)',
      'hasOwnProperty: unknown field (known: input, layers, format, name, description, training)',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const nameArb = optional(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/));
/** A fraction i / 100 (exact through JSON, never -0). */
const percent = (min: number, max: number) => fc.integer({ min, max }).map((i) => i / 100);

const weightedArb = fc.record({
  density: optional(fc.constantFrom(0.05, 0.1, 0.25, 0.3, 0.5, 0.75, 1)),
  dropconnect: optional(fc.constantFrom(0, 0.1, 0.2, 0.5, 0.9)),
  modifiersFirst: fc.constantFrom<'sparse' | 'dropconnect'>('sparse', 'dropconnect'),
  bias: optional(fc.boolean()),
  name: nameArb,
});

const boostArb = fc.record(
  { strength: fc.constantFrom(0, 0.5, 1.5, 3), strengthFactor: fc.constantFrom(0, 0.5, 0.85, 1), dutyCyclePeriod: fc.integer({ min: 1, max: 2000 }) },
  { requiredKeys: [] },
);

const kwtaArb = fc.record({
  op: fc.constant('kwta' as const),
  byK: fc.boolean(),
  kFraction: fc.integer({ min: 1, max: 100 }),
  percentOn: fc.constantFrom(0.01, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.6, 0.9, 0.99),
  kInferenceFactor: optional(fc.constantFrom(1, 1.1, 1.5, 2, 3)),
  local: fc.boolean(),
  breakTies: optional(fc.boolean()),
  relu: optional(fc.boolean()),
  boost: optional(boostArb),
  name: nameArb,
});

const batchNormArb = fc.record({
  op: fc.constant('batchNorm' as const),
  affine: optional(fc.boolean()),
  momentum: optional(percent(1, 100)),
  epsilon: optional(fc.constantFrom(1e-5, 1e-3, 0.1)),
  name: nameArb,
});
const dropoutArb = fc.record({ op: fc.constant('dropout' as const), rate: percent(0, 95), name: nameArb });
const reluArb = fc.constant({ op: 'relu' as const });

const imageOpArb = fc.oneof(
  fc.record({
    op: fc.constant('conv2d' as const),
    filters: fc.integer({ min: 1, max: 4 }),
    kernel: fc.integer({ min: 1, max: 5 }),
    stride: optional(fc.integer({ min: 1, max: 3 })),
    padding: optional(fc.integer({ min: 0, max: 2 })),
    w: weightedArb,
  }),
  fc.record({ op: fc.constant('maxPool2d' as const), size: fc.integer({ min: 1, max: 3 }), name: nameArb }),
  kwtaArb,
  reluArb,
  batchNormArb,
  dropoutArb,
);

const vectorOpArb = fc.oneof(
  fc.record({ op: fc.constant('dense' as const), units: fc.integer({ min: 1, max: 32 }), w: weightedArb }),
  kwtaArb,
  reluArb,
  batchNormArb,
  dropoutArb,
);

type Op = typeof imageOpArb extends fc.Arbitrary<infer A> ? A : never;
type VOp = typeof vectorOpArb extends fc.Arbitrary<infer A> ? A : never;
type Weighted = typeof weightedArb extends fc.Arbitrary<infer A> ? A : never;

const trainingArb: fc.Arbitrary<TrainingDefaults> = fc.record(
  {
    epochs: fc.integer({ min: 1, max: 50 }),
    batchSize: fc.integer({ min: 1, max: 256 }),
    firstEpochBatchSize: fc.integer({ min: 1, max: 64 }),
    lr: fc.integer({ min: 1, max: 1000 }).map((i) => i / 1000),
    lrGamma: percent(1, 100),
    momentum: percent(0, 99),
    weightDecay: fc.integer({ min: 0, max: 100 }).map((i) => i / 10000),
  },
  { requiredKeys: [] },
);

/** Drops undefined values, so that options objects only hold what was chosen. */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const applyWeighted = (net: Network<any>, w: Weighted): Network<any> => {
  const s = (n: Network<any>) => (w.density === undefined ? n : sparse(w.density)(n as Network<'dense'>));
  const d = (n: Network<any>) => (w.dropconnect === undefined ? n : dropconnect(w.dropconnect)(n as Network<'dense'>));
  return w.modifiersFirst === 'sparse' ? d(s(net)) : s(d(net));
};

/** Appends a kwta layer that is valid on the current shape (k <= n, k_inf <= n), adjusting the choice if needed. */
const applyKwta = (net: Network<any>, o: Extract<Op, { op: 'kwta' }>): Network<any> => {
  const shape = outputShape(net);
  const local = o.local && shape.length === 3;
  const n = local ? shape[0] : shape.reduce((a, b) => a * b, 1);
  const common = defined({ local: local ? true : o.local ? false : undefined, breakTies: o.breakTies, relu: o.relu, name: o.name });
  const valid = (percentOn: number | undefined, k: number | undefined, factor: number): boolean => {
    if (percentOn !== undefined && percentOn * factor > 1) return false;
    const layer: KwtaLayer = { kind: 'kwta', percentOn, k, kInferenceFactor: factor, local, breakTies: false, relu: false };
    return E.isRight(kwtaSizes(layer, shape));
  };
  let options: KwtaOptions;
  const factor = o.kInferenceFactor ?? 1.5;
  if (o.byK) {
    const k = Math.max(1, Math.round((o.kFraction / 100) * n));
    if (valid(undefined, k, factor)) options = { ...common, k, ...defined({ kInferenceFactor: o.kInferenceFactor }) };
    else options = { ...common, k: Math.max(1, Math.floor(n / 3)), kInferenceFactor: 1 };
  } else if (valid(o.percentOn, undefined, factor)) {
    options = { ...common, percentOn: o.percentOn, ...defined({ kInferenceFactor: o.kInferenceFactor }) };
  } else if (valid(o.percentOn, undefined, 1)) {
    options = { ...common, percentOn: o.percentOn, kInferenceFactor: 1 };
  } else {
    options = { ...common, k: 1, kInferenceFactor: 1 };
  }
  const out = kwta(options)(net);
  return o.boost === undefined ? out : boost(o.boost)(out);
};

const applyOp = (net: Network<any>, o: Op | VOp): Network<any> => {
  const shape = outputShape(net);
  switch (o.op) {
    case 'conv2d': {
      const padding = o.padding ?? 0;
      const kernel = Math.min(o.kernel, shape[1] + 2 * padding, shape[2] + 2 * padding);
      const c = conv2d(defined({ filters: o.filters, kernel, stride: o.stride, padding: o.padding, bias: o.w.bias, name: o.w.name }))(net);
      return applyWeighted(c, o.w);
    }
    case 'maxPool2d':
      return maxPool2d(Math.min(o.size, shape[1], shape[2]), defined({ name: o.name }))(net);
    case 'dense':
      return applyWeighted(dense(o.units, defined({ bias: o.w.bias, name: o.w.name }))(net), o.w);
    case 'kwta':
      return applyKwta(net, o);
    case 'relu':
      return relu(net);
    case 'batchNorm':
      return batchNorm(defined({ affine: o.affine, momentum: o.momentum, epsilon: o.epsilon, name: o.name }))(net);
    case 'dropout':
      return dropout(o.rate, defined({ name: o.name }))(net);
  }
};

const inputArb = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 64 })).map((s): number[] => s),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 })).map((s): number[] => s),
);

/** Random valid networks, built with the DSL; valid by construction. */
const networkArb: fc.Arbitrary<Network> = fc
  .record({
    shape: inputArb,
    inputName: nameArb,
    imageOps: fc.array(imageOpArb, { maxLength: 5 }),
    vectorOps: fc.array(vectorOpArb, { maxLength: 5 }),
    head: fc.boolean(),
    name: nameArb,
    training: optional(trainingArb),
  })
  .map((p) => {
    let net: Network<any> = input(p.shape, defined({ name: p.inputName }));
    if (p.shape.length === 3) {
      for (const o of p.imageOps) net = applyOp(net, o);
      net = flatten(net);
    }
    for (const o of p.vectorOps) net = applyOp(net, o);
    if (p.head) net = softmaxCrossEntropy(net);
    if (p.name !== undefined) net = named(p.name)(net);
    if (p.training !== undefined) net = withTraining(p.training)(net);
    return net;
  })
  // a model file must have at least one layer (a bare input() network cannot be written as a file)
  .filter((net) => net.layers.length > 0);

const roundTrip = (net: Network): Network => modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(net))));

describe('property: DSL -> modelToJSON -> JSON text -> modelFromJSON is the identity', () => {
  it('over generated valid networks', () => {
    fc.assert(
      fc.property(networkArb, (net) => {
        const back = roundTrip(net);
        expect(back).toEqual(net);
        expect(back.shapes).toEqual(net.shapes);
        expect(back.paramCounts).toEqual(net.paramCounts);
        // and the JSON form is a fixed point
        expect(modelToJSON(back)).toEqual(modelToJSON(net));
      }),
      { numRuns: 200 },
    );
  });

  it('the generator really produces varied networks (sanity check of the arbitrary)', () => {
    const samples = fc.sample(networkArb, { numRuns: 300, seed: 42 });
    const kinds = new Set(samples.flatMap((n) => n.layers.map((l) => l.kind)));
    expect([...kinds].sort()).toEqual(['batchNorm', 'conv2d', 'dense', 'dropout', 'flatten', 'kwta', 'maxPool2d', 'relu', 'softmaxCrossEntropy']);
    const layers = samples.flatMap((n) => n.layers);
    expect(layers.some((l) => l.kind === 'dense' && l.weightDensity < 1)).toBe(true);
    expect(layers.some((l) => l.kind === 'conv2d' && l.weightDensity < 1)).toBe(true);
    expect(layers.some((l) => l.kind === 'conv2d' && l.dropconnect > 0)).toBe(true);
    expect(layers.some((l) => l.kind === 'kwta' && l.boost !== undefined)).toBe(true);
    expect(layers.some((l) => l.kind === 'kwta' && l.local)).toBe(true);
    expect(layers.some((l) => l.kind === 'kwta' && l.percentOn !== undefined)).toBe(true);
    expect(layers.some((l) => l.kind === 'kwta' && l.k !== undefined)).toBe(true);
    expect(samples.some((n) => n.training !== undefined && n.name !== undefined)).toBe(true);
    expect(samples.some((n) => n.input.length === 3 && n.layers.length > 4)).toBe(true);
    // every k-winners layer in the samples resolves (k and k at inference within n)
    for (const n of samples) {
      n.layers.forEach((l, i) => {
        if (l.kind === 'kwta') expect(E.isRight(kwtaSizes(l, i === 0 ? n.input : n.shapes[i - 1]))).toBe(true);
      });
    }
  });

  it('k from percentOn in decoded files is the half-even rounding of n x percentOn', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 66 }), (n, pct) => {
        const percentOn = pct / 100;
        const expectedK = roundHalfEven(n * percentOn);
        const r = decodeModel({ input: [n], layers: [{ kwta: { percentOn } }] });
        const expectedKInference = Math.floor(expectedK * 1.5 + 1e-9);
        if (expectedK < 1) {
          expect(r).toEqual(E.left([`layers[0].kwta: percentOn ${percentOn} of ${n} units gives k = 0`]));
        } else if (expectedKInference > n) {
          expect(r).toEqual(E.left([`layers[0].kwta: k at inference = floor(${expectedK} x 1.5) = ${expectedKInference} exceeds the ${n} units it chooses from`]));
        } else {
          if (E.isLeft(r)) throw new Error(r.left.join('\n'));
          const sizes = kwtaSizes(r.right.layers[0] as KwtaLayer, [n]);
          expect(sizes).toEqual(E.right({ n, groups: 1, k: expectedK, kInference: expectedKInference, dutyCycles: n }));
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

type Json = Record<string, any>;

/** One rule-breaking change to a valid model file: where it is and what the problem must say. */
interface Mutation {
  /** JSON path every problem about it starts with. */
  readonly path: string;
  /** The exact problem expected, where it is known. */
  readonly message?: string;
  readonly apply: (json: Json) => void;
}

const POSITIVE_INT = 'must be a positive integer';
const badPositiveInts: ReadonlyArray<unknown> = [0, -1, 1.5, '3'];

/** Every mutation of `json` that breaks exactly one rule; `variant` picks among the bad values. */
const mutationsOf = (json: Json, variant: number): Mutation[] => {
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[variant % xs.length];
  const out: Mutation[] = [];
  const setField = (path: string, get: (j: Json) => Json, key: string, value: unknown, rule: string) =>
    out.push({ path: `${path}.${key}`, message: `${path}.${key}: ${rule}, got ${JSON.stringify(value)}`, apply: (j) => void (get(j)[key] = value) });
  const addUnknown = (path: string, get: (j: Json) => Json) =>
    out.push({ path: `${path}.bogus_field`, apply: (j) => void (get(j).bogus_field = 1) });
  const remove = (path: string, get: (j: Json) => Json, key: string) =>
    out.push({ path: `${path}.${key}`, message: `${path}.${key}: is required`, apply: (j) => void delete get(j)[key] });

  // root
  out.push({ path: 'bogus_field', apply: (j) => void (j.bogus_field = true) });
  out.push({ path: 'input', message: 'input: is required', apply: (j) => void delete j.input });
  out.push({ path: 'layers', message: 'layers: is required', apply: (j) => void delete j.layers });
  const badInput = pick<unknown>([[0], [2, 3], [1, 0, 4], [-4], [1.5], [limits.maxDimension + 1], '784']);
  out.push({ path: 'input', apply: (j) => void (j.input = badInput) });
  out.push({ path: 'format', apply: (j) => void (j.format = 'winnow.model/0') });
  out.push({ path: 'name', message: `name: ${IDENT} "not a name"`, apply: (j) => void (j.name = 'not a name') });
  // training
  const training = (j: Json) => j.training ?? (j.training = {});
  setField('training', training, pick(['epochs', 'batchSize', 'firstEpochBatchSize']), pick(badPositiveInts), POSITIVE_INT);
  setField('training', training, 'lr', pick([0, -0.1, '0.1']), 'must be a finite number > 0');
  setField('training', training, 'momentum', pick([1, -0.5]), 'must be in [0, 1)');
  addUnknown('training', training);

  json.layers.forEach((entry: Json, i: number) => {
    const kind = Object.keys(entry)[0];
    const path = `layers[${i}].${kind}`;
    const body = (j: Json) => j.layers[i][kind] as Json;
    const b = entry[kind] as Json;
    addUnknown(path, body);
    out.push({ path: `layers[${i}]`, message: `layers[${i}]: ${oneKind(JSON.stringify({ [`${kind}x`]: b }).length > 60 ? `${JSON.stringify({ [`${kind}x`]: b }).slice(0, 57)}...` : JSON.stringify({ [`${kind}x`]: b }))}`, apply: (j) => void (j.layers[i] = { [`${kind}x`]: b }) });
    switch (kind) {
      case 'dense':
        setField(path, body, 'units', pick(badPositiveInts), POSITIVE_INT);
        remove(path, body, 'units');
        setField(path, body, 'weightDensity', pick([0, 1.01, -0.3]), 'must be in (0, 1]');
        setField(path, body, 'dropconnect', pick([1, 1.5, -0.1]), 'must be in [0, 1)');
        setField(path, body, 'bias', pick(['true', 1, null]), 'must be true or false');
        break;
      case 'conv2d':
        setField(path, body, pick(['filters', 'kernel', 'stride']), pick(badPositiveInts), POSITIVE_INT);
        remove(path, body, pick(['filters', 'kernel']));
        setField(path, body, 'padding', pick([-1, 0.5]), 'must be a non-negative integer');
        setField(path, body, 'weightDensity', pick([0, 1.01]), 'must be in (0, 1]');
        setField(path, body, 'dropconnect', 1, 'must be in [0, 1)');
        break;
      case 'maxPool2d':
        setField(path, body, 'size', pick(badPositiveInts), POSITIVE_INT);
        remove(path, body, 'size');
        break;
      case 'dropout':
        setField(path, body, 'rate', pick([1, 1.5, -0.5]), 'must be in [0, 1)');
        remove(path, body, 'rate');
        break;
      case 'batchNorm':
        setField(path, body, 'momentum', pick([0, 1.5]), 'must be in (0, 1]');
        setField(path, body, 'epsilon', pick([0, -1]), 'must be a finite number > 0');
        break;
      case 'kwta':
        if (b.percentOn !== undefined) {
          setField(path, body, 'percentOn', pick([0, 1, 1.5]), 'must be in (0, 1)');
          const factor = (1 / b.percentOn) * 1.25;
          out.push({
            path,
            message: `${path}: percentOn x kInferenceFactor must be <= 1, got ${b.percentOn} x ${factor} = ${b.percentOn * factor}`,
            apply: (j) => void (body(j).kInferenceFactor = factor),
          });
          // both percentOn and k
          out.push({ path, message: `${path}: exactly one of percentOn and k must be given`, apply: (j) => void (body(j).k = 1) });
        } else {
          setField(path, body, 'k', pick(badPositiveInts), POSITIVE_INT);
          out.push({ path, message: `${path}: exactly one of percentOn and k must be given`, apply: (j) => void delete body(j).k });
        }
        setField(path, body, 'kInferenceFactor', pick([0.5, 0, -2]), 'must be a finite number >= 1');
        if (b.boost !== undefined) {
          const boostOf = (j: Json) => body(j).boost as Json;
          setField(`${path}.boost`, boostOf, 'dutyCyclePeriod', pick(badPositiveInts), POSITIVE_INT);
          setField(`${path}.boost`, boostOf, 'strengthFactor', pick([2, -0.1]), 'must be in [0, 1]');
          addUnknown(`${path}.boost`, boostOf);
        }
        break;
    }
    out.push({ path: `${path}.name`, message: `${path}.name: ${IDENT} "9lives"`, apply: (j) => void (body(j).name = '9lives') });
  });
  return out;
};

describe('property: invalid generated files are always rejected', () => {
  it('one rule-breaking mutation of a valid file gives Left with a problem at its path', () => {
    fc.assert(
      fc.property(networkArb, fc.nat(), fc.nat(), (net, which, variant) => {
        const valid = JSON.parse(JSON.stringify(modelToJSON(net))) as Json;
        expect(E.isRight(decodeModel(valid))).toBe(true);
        const mutations = mutationsOf(valid, variant);
        const m = mutations[which % mutations.length];
        const bad = structuredClone(valid);
        m.apply(bad);
        const r = decodeModel(JSON.parse(JSON.stringify(bad)));
        if (E.isRight(r)) throw new Error(`accepted a model broken at ${m.path}: ${JSON.stringify(bad)}`);
        expect(r.left.length).toBeGreaterThan(0);
        expect(r.left.some((p) => p.startsWith(`${m.path}: `))).toBe(true);
        if (m.message !== undefined) expect(r.left).toContain(m.message);
        // modelFromJSON throws the same problems
        const e = thrown(() => modelFromJSON(bad, 'gen.json')) as WinnowError;
        expect(e).toBeInstanceOf(WinnowError);
        expect(e.problems).toEqual(r.left);
      }),
      { numRuns: 200 },
    );
  });

  it('several independent mutations are all reported at once', () => {
    fc.assert(
      fc.property(networkArb, fc.nat(), (net, variant) => {
        const valid = JSON.parse(JSON.stringify(modelToJSON(net))) as Json;
        const bad = structuredClone(valid);
        // field-level problems in different layers (and the root) are independent of each other
        const fieldPaths: string[] = [];
        bad.layers.forEach((entry: Json, i: number) => {
          const kind = Object.keys(entry)[0];
          entry[kind][`bogus${variant % 10}`] = i;
          fieldPaths.push(`layers[${i}].${kind}.bogus${variant % 10}`);
        });
        bad.extra_root = 1;
        fieldPaths.push('extra_root');
        const problems = problemsOf(bad);
        expect(problems).toHaveLength(fieldPaths.length);
        fieldPaths.forEach((p, i) => expect(problems[i].startsWith(`${p}: unknown field (known: `)).toBe(true));
      }),
      { numRuns: 100 },
    );
  });
});

describe('every mutation kind on a fixed sample of networks', () => {
  it('is rejected with a problem at its path, for several bad values', () => {
    const nets = fc.sample(networkArb, { numRuns: 40, seed: 7 });
    let checked = 0;
    for (const net of nets) {
      const valid = JSON.parse(JSON.stringify(modelToJSON(net))) as Json;
      for (let variant = 0; variant < 4; variant++) {
        for (const m of mutationsOf(valid, variant)) {
          const bad = structuredClone(valid);
          m.apply(bad);
          const problems = problemsOf(JSON.parse(JSON.stringify(bad)));
          expect(problems.some((p) => p.startsWith(`${m.path}: `)), `${m.path} in ${JSON.stringify(problems)}`).toBe(true);
          if (m.message !== undefined) expect(problems).toContain(m.message);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
