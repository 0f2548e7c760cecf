/**
 * The op table: every op the IR may contain, with its arity, attribute schema, shape rule and
 * checks. Shape rules of layer ops come from the DSL's rules, so the DSL and the compiler cannot
 * disagree about shapes.
 */
import * as E from 'fp-ts/lib/Either.js';
import { batchNormRule } from '../../dsl/batch-norm.ts';
import { conv2dRule } from '../../dsl/conv2d.ts';
import { denseRule } from '../../dsl/dense.ts';
import { dropoutRule } from '../../dsl/dropout.ts';
import { flattenRule } from '../../dsl/flatten.ts';
import { kwtaRule, kwtaSizes } from '../../dsl/kwta.ts';
import type { KwtaLayer } from '../../dsl/layer.ts';
import { maxPool2dRule } from '../../dsl/max-pool2d.ts';
import { reluRule } from '../../dsl/relu.ts';
import type { Shape } from '../../dsl/shape.ts';
import { softmaxCrossEntropyRule } from '../../dsl/softmax-cross-entropy.ts';
import type { OpName } from '../ir.ts';
import { expectShape, layerShape, ownShape, type OpDef } from './op-def.ts';

const weightAttrs = { weightDensity: 'number', dropconnect: 'number', keptPerUnit: 'int', fanIn: 'int' } as const;

const weightChecks = (units: number, fanIn: number, wShape: Shape, hasBias: boolean, inputs: ReadonlyArray<{ shape?: Shape }>, opFanIn: number): string[] => [
  ...(fanIn !== opFanIn ? [`fanIn attribute ${opFanIn} does not match the input's ${fanIn}`] : []),
  ...expectShape('weight', inputs[1].shape, wShape),
  ...(hasBias ? expectShape('bias', inputs[2].shape, [units]) : []),
];

const defs: ReadonlyArray<OpDef> = [
  { name: 'input', arity: [0, 0], attrs: {}, inferShape: ownShape },
  { name: 'param', arity: [0, 0], attrs: { role: ['weight', 'bias', 'gamma', 'beta'], init: ['uniform', 'ones', 'zeros'], 'bound?': 'number', 'layer?': 'int' }, inferShape: ownShape },
  { name: 'state', arity: [0, 0], attrs: { role: ['dutyCycle', 'boostStrength', 'runningMean', 'runningVar'], init: 'number' }, inferShape: ownShape },
  {
    name: 'dense',
    arity: [2, 3],
    attrs: { units: 'int', bias: 'bool', ...weightAttrs },
    inferShape: layerShape('dense', denseRule),
    check: (op, ins) => weightChecks(op.attrs.units as number, ins[0].shape![0], [op.attrs.units as number, ins[0].shape![0]], op.attrs.bias as boolean, ins, op.attrs.fanIn as number),
  },
  {
    name: 'conv2d',
    arity: [2, 3],
    attrs: { filters: 'int', kernel: 'int', stride: 'int', padding: 'int', bias: 'bool', ...weightAttrs },
    inferShape: layerShape('conv2d', conv2dRule),
    check: (op, ins) => {
      const [c] = ins[0].shape!;
      const { filters, kernel } = op.attrs as { filters: number; kernel: number };
      return weightChecks(filters, c * kernel * kernel, [filters, c, kernel, kernel], op.attrs.bias as boolean, ins, op.attrs.fanIn as number);
    },
  },
  { name: 'maxPool2d', arity: [1, 1], attrs: { size: 'int' }, inferShape: layerShape('maxPool2d', maxPool2dRule) },
  { name: 'flatten', arity: [1, 1], attrs: {}, inferShape: layerShape('flatten', flattenRule) },
  { name: 'relu', arity: [1, 1], attrs: {}, inferShape: layerShape('relu', reluRule) },
  {
    name: 'batchNorm',
    arity: [3, 5],
    attrs: { affine: 'bool', momentum: 'number', epsilon: 'number' },
    inferShape: layerShape('batchNorm', batchNormRule),
    check: (op, ins) => {
      const c = ins[0].shape![0];
      return [
        ...expectShape('running mean', ins[1].shape, [c]),
        ...expectShape('running variance', ins[2].shape, [c]),
        ...(op.attrs.affine ? [...expectShape('gamma', ins[3]?.shape, [c]), ...expectShape('beta', ins[4]?.shape, [c])] : []),
      ];
    },
  },
  {
    name: 'kwta',
    arity: [3, 3],
    attrs: {
      k: 'int', kInference: 'int', n: 'int', groups: 'int', kInferenceFactor: 'number', local: 'bool', breakTies: 'bool', relu: 'bool',
      strengthFactor: 'number', dutyCyclePeriod: 'int',
    },
    inferShape: layerShape('kwta', kwtaRule),
    check: (op, ins) => {
      const sizes = kwtaSizes({ kind: 'kwta', ...op.attrs } as unknown as KwtaLayer, ins[0].shape!);
      if (E.isLeft(sizes)) return [sizes.left];
      const s = sizes.right;
      return [
        ...(s.n !== op.attrs.n || s.groups !== op.attrs.groups || s.kInference !== op.attrs.kInference
          ? [`sizes n=${op.attrs.n}, groups=${op.attrs.groups}, kInference=${op.attrs.kInference} do not match the input's n=${s.n}, groups=${s.groups}, kInference=${s.kInference}`]
          : []),
        ...expectShape('duty cycles', ins[1].shape, [s.dutyCycles]),
        ...expectShape('boost strength', ins[2].shape, [1]),
      ];
    },
  },
  { name: 'dropout', arity: [1, 1], attrs: { rate: 'number' }, inferShape: layerShape('dropout', dropoutRule) },
  { name: 'softmaxCrossEntropy', arity: [1, 1], attrs: {}, inferShape: layerShape('softmaxCrossEntropy', softmaxCrossEntropyRule) },
];

/** The op table, by name. */
export const opTable: ReadonlyMap<OpName, OpDef> = new Map(defs.map((d) => [d.name, d]));

/** The definition of an op kind (throws for an unknown kind: a compiler bug). */
export const opDef = (name: OpName): OpDef => {
  const d = opTable.get(name);
  if (!d) throw new Error(`unknown op ${name}`);
  return d;
};
