/**
 * Type-level tests of the DSL. `tsc --noEmit -p tsconfig.json` checks them (tsconfig includes
 * test/): each `// @ts-expect-error` line must be a compile error, or tsc fails with "Unused
 * '@ts-expect-error' directive". Expressions that would throw at run time are only built inside
 * `() => ...` closures that are never called.
 */
import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  batchNorm,
  boost,
  conv2d,
  dense,
  dropconnect,
  dropout,
  flatten,
  input,
  kwta,
  maxPool2d,
  named,
  relu,
  softmaxCrossEntropy,
  sparse,
  withTraining,
  type ActivationDensity,
  type KwtaOptions,
  type Network,
  type WeightDensity,
} from '../../dsl/index.ts';

/** Never called: holds expressions that are compile errors (and may throw if run). */
const never = (f: () => unknown): void => void f;

describe('Network<K> tracks the kind of the last layer', () => {
  it('each combinator gives Network<its kind>', () => {
    const start = input([1, 8, 8]);
    expectTypeOf(start).toEqualTypeOf<Network<'input'>>();
    const c = pipe(start, conv2d({ filters: 2, kernel: 3 }));
    expectTypeOf(c).toEqualTypeOf<Network<'conv2d'>>();
    expectTypeOf(pipe(c, maxPool2d(2))).toEqualTypeOf<Network<'maxPool2d'>>();
    expectTypeOf(pipe(c, relu)).toEqualTypeOf<Network<'relu'>>();
    expectTypeOf(pipe(c, batchNorm())).toEqualTypeOf<Network<'batchNorm'>>();
    expectTypeOf(pipe(c, dropout(0.1))).toEqualTypeOf<Network<'dropout'>>();
    expectTypeOf(pipe(c, flatten)).toEqualTypeOf<Network<'flatten'>>();
    const d = pipe(c, flatten, dense(4));
    expectTypeOf(d).toEqualTypeOf<Network<'dense'>>();
    expectTypeOf(pipe(d, softmaxCrossEntropy)).toEqualTypeOf<Network<'softmaxCrossEntropy'>>();
    expectTypeOf(d.last).toEqualTypeOf<'dense'>();
    expect(d.last).toBe('dense');
  });

  it("kwta's result type is Network<'kwta'>, also after boost", () => {
    const k = pipe(input([100]), dense(50), kwta({ percentOn: 0.1 }));
    expectTypeOf(k).toEqualTypeOf<Network<'kwta'>>();
    expectTypeOf(pipe(k, boost({}))).toEqualTypeOf<Network<'kwta'>>();
    expectTypeOf(kwta({ k: 3 })).returns.toEqualTypeOf<Network<'kwta'>>();
    expectTypeOf(boost()).returns.toEqualTypeOf<Network<'kwta'>>();
    expectTypeOf(boost()).parameter(0).toEqualTypeOf<Network<'kwta'>>();
    expect(k.last).toBe('kwta');
  });

  it('sparse and dropconnect keep the kind of the weighted layer they modify', () => {
    expectTypeOf(pipe(input([10]), dense(5), sparse(0.5))).toEqualTypeOf<Network<'dense'>>();
    expectTypeOf(pipe(input([1, 8, 8]), conv2d({ filters: 2, kernel: 3 }), sparse(0.5))).toEqualTypeOf<Network<'conv2d'>>();
    expectTypeOf(pipe(input([10]), dense(5), dropconnect(0.5), sparse(0.3))).toEqualTypeOf<Network<'dense'>>();
    expectTypeOf(pipe(input([1, 8, 8]), conv2d({ filters: 2, kernel: 3 }), dropconnect(0.2))).toEqualTypeOf<Network<'conv2d'>>();
  });

  it('named and withTraining keep the kind', () => {
    const net = pipe(input([4]), dense(2), softmaxCrossEntropy, named('n'), withTraining({ lr: 0.1 }));
    expectTypeOf(net).toEqualTypeOf<Network<'softmaxCrossEntropy'>>();
    expectTypeOf(pipe(input([4]), named('n'))).toEqualTypeOf<Network<'input'>>();
  });

  it('a specific network is assignable to the default Network type', () => {
    expectTypeOf(pipe(input([4]), dense(2))).toMatchTypeOf<Network>();
    expectTypeOf<Network<'dense'>>().not.toEqualTypeOf<Network<'relu'>>();
    expectTypeOf<Network<'dense'>>().not.toMatchTypeOf<Network<'kwta'>>();
  });
});

describe('boost only after kwta', () => {
  it('boost after kwta compiles', () => {
    const net = pipe(input([100]), kwta({ k: 5 }), boost({ strength: 1 }));
    expect(net.layers[0]).toMatchObject({ boost: { strength: 1 } });
  });

  it('boost after anything else is a compile error', () => {
    never(() => {
      // @ts-expect-error boost needs a Network<'kwta'>
      pipe(input([100]), dense(50), boost({}));
      // @ts-expect-error boost after relu
      pipe(input([100]), dense(50), kwta({ k: 5 }), relu, boost({}));
      // @ts-expect-error boost directly on an input
      pipe(input([100]), boost({}));
      // @ts-expect-error boost after a kwta head-closed network
      pipe(input([100]), kwta({ k: 5 }), softmaxCrossEntropy, boost({}));
      // @ts-expect-error called directly
      boost({})(pipe(input([4]), dense(2)));
    });
    expectTypeOf(boost({})).parameter(0).not.toMatchTypeOf<Network<'dense'>>();
  });
});

describe('sparse and dropconnect only after dense or conv2d', () => {
  it('after dense and conv2d they compile', () => {
    expect(pipe(input([10]), dense(5), sparse(0.5)).layers[0]).toMatchObject({ weightDensity: 0.5 });
    expect(pipe(input([1, 4, 4]), conv2d({ filters: 1, kernel: 3 }), dropconnect(0.5)).layers[0]).toMatchObject({ dropconnect: 0.5 });
  });

  it('after anything else they are compile errors', () => {
    never(() => {
      // @ts-expect-error sparse after relu
      pipe(input([10]), dense(5), relu, sparse(0.5));
      // @ts-expect-error sparse after kwta
      pipe(input([10]), dense(5), kwta({ k: 2 }), sparse(0.5));
      // @ts-expect-error sparse on the input
      pipe(input([10]), sparse(0.5));
      // @ts-expect-error sparse after batchNorm
      pipe(input([10]), dense(5), batchNorm(), sparse(0.5));
      // @ts-expect-error dropconnect after relu
      pipe(input([10]), dense(5), relu, dropconnect(0.5));
      // @ts-expect-error dropconnect after kwta
      pipe(input([10]), dense(5), kwta({ k: 2 }), dropconnect(0.5));
      // @ts-expect-error dropconnect after maxPool2d
      pipe(input([1, 4, 4]), conv2d({ filters: 1, kernel: 1 }), maxPool2d(2), dropconnect(0.5));
      // @ts-expect-error dropconnect after flatten
      pipe(input([1, 4, 4]), conv2d({ filters: 1, kernel: 1 }), flatten, dropconnect(0.5));
    });
  });
});

describe('nothing after softmaxCrossEntropy', () => {
  it('is a compile error for every layer', () => {
    const head = pipe(input([4]), dense(3), softmaxCrossEntropy);
    never(() => {
      // @ts-expect-error dense after the head
      pipe(head, dense(2));
      // @ts-expect-error relu after the head
      pipe(head, relu);
      // @ts-expect-error kwta after the head
      pipe(head, kwta({ k: 1 }));
      // @ts-expect-error a second head
      pipe(head, softmaxCrossEntropy);
      // @ts-expect-error dropout after the head
      pipe(head, dropout(0.5));
      // @ts-expect-error batchNorm after the head
      pipe(head, batchNorm());
      // @ts-expect-error flatten after the head
      pipe(head, flatten);
      // @ts-expect-error sparse after the head
      pipe(head, sparse(0.5));
      // @ts-expect-error called directly
      dense(2)(head);
    });
    expectTypeOf(relu).parameter(0).not.toMatchTypeOf<Network<'softmaxCrossEntropy'>>();
    // naming and training defaults may still follow
    expect(pipe(head, named('m'), withTraining({ epochs: 1 })).name).toBe('m');
  });
});

describe('WeightDensity and ActivationDensity', () => {
  it('plain number literals are fine for both', () => {
    const w: WeightDensity = 0.3;
    const a: ActivationDensity = 0.1;
    expect(pipe(input([10]), dense(5), sparse(w)).layers[0]).toMatchObject({ weightDensity: 0.3 });
    expect(pipe(input([100]), kwta({ percentOn: a })).layers[0]).toMatchObject({ percentOn: 0.1 });
    const n = 0.5;
    expect(pipe(input([10]), dense(5), sparse(n), kwta({ percentOn: n })).layers).toHaveLength(2);
    expectTypeOf(sparse).parameter(0).toEqualTypeOf<WeightDensity>();
    expectTypeOf<number>().toMatchTypeOf<WeightDensity>();
    expectTypeOf<number>().toMatchTypeOf<ActivationDensity>();
  });

  it('are not assignable to each other', () => {
    const w: WeightDensity = 0.3;
    const a: ActivationDensity = 0.1;
    expectTypeOf<ActivationDensity>().not.toMatchTypeOf<WeightDensity>();
    expectTypeOf<WeightDensity>().not.toMatchTypeOf<ActivationDensity>();
    never(() => {
      // @ts-expect-error an activation density is not a weight density
      const w2: WeightDensity = a;
      // @ts-expect-error a weight density is not an activation density
      const a2: ActivationDensity = w;
      // @ts-expect-error an ActivationDensity passed to sparse()
      pipe(input([10]), dense(5), sparse(a));
      // @ts-expect-error an ActivationDensity passed to sparse() directly
      sparse(a);
      // @ts-expect-error a WeightDensity passed as percentOn
      kwta({ percentOn: w });
      return [w2, a2];
    });
    // both are still numbers
    expectTypeOf(w).toMatchTypeOf<number>();
    expectTypeOf(a).toMatchTypeOf<number>();
    expect(w + a).toBeCloseTo(0.4);
  });
});

describe('kwta takes exactly one of percentOn and k', () => {
  it('either one compiles', () => {
    expectTypeOf<{ percentOn: 0.1 }>().toMatchTypeOf<KwtaOptions>();
    expectTypeOf<{ k: 3; local: true }>().toMatchTypeOf<KwtaOptions>();
    expect(kwta({ k: 3, kInferenceFactor: 1, local: false, breakTies: true, relu: true, name: 'kw' })).toBeTypeOf('function');
  });

  it('both, or neither, is a compile error', () => {
    expectTypeOf<{ percentOn: 0.1; k: 3 }>().not.toMatchTypeOf<KwtaOptions>();
    expectTypeOf<{ local: true }>().not.toMatchTypeOf<KwtaOptions>();
    never(() => {
      // @ts-expect-error both percentOn and k
      kwta({ percentOn: 0.1, k: 3 });
      // @ts-expect-error neither percentOn nor k
      kwta({});
      // @ts-expect-error neither, with other options
      kwta({ local: true, kInferenceFactor: 2 });
      // @ts-expect-error k must be a number
      kwta({ k: '3' });
      // @ts-expect-error unknown option
      kwta({ k: 3, boost: true });
    });
  });
});

describe('other argument types', () => {
  it('are checked at compile time', () => {
    never(() => {
      // @ts-expect-error dense takes a number of units
      dense('10');
      // @ts-expect-error conv2d needs a kernel
      conv2d({ filters: 2 });
      // @ts-expect-error relu is a combinator, not a combinator factory
      pipe(input([4]), relu());
      // @ts-expect-error flatten is a combinator, not a combinator factory
      pipe(input([1, 2, 2]), flatten());
      // @ts-expect-error boost settings are numbers
      boost({ strength: 'high' });
      // @ts-expect-error unknown training field
      withTraining({ learningRate: 0.1 });
    });
    expectTypeOf(dense).parameter(0).toEqualTypeOf<number>();
  });
});
