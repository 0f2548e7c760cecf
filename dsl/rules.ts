/**
 * The shape and parameter rule of every layer kind, looked up by kind. Internal to winnow (tests
 * and tools that need a layer's rule without knowing its kind statically).
 */
import { batchNormRule } from './batch-norm.ts';
import { conv2dRule } from './conv2d.ts';
import { denseRule } from './dense.ts';
import { dropoutRule } from './dropout.ts';
import { flattenRule } from './flatten.ts';
import { kwtaRule } from './kwta.ts';
import type { Layer, LayerKind } from './layer.ts';
import { maxPool2dRule } from './max-pool2d.ts';
import type { LayerRule } from './network.ts';
import { reluRule } from './relu.ts';
import { softmaxCrossEntropyRule } from './softmax-cross-entropy.ts';

const table: { readonly [K in LayerKind]: LayerRule<Layer & { kind: K }> } = {
  dense: denseRule,
  conv2d: conv2dRule,
  maxPool2d: maxPool2dRule,
  flatten: flattenRule,
  relu: reluRule,
  batchNorm: batchNormRule,
  kwta: kwtaRule,
  dropout: dropoutRule,
  softmaxCrossEntropy: softmaxCrossEntropyRule,
};

/** The rule of a layer's kind. */
export const ruleOf = (layer: Layer): LayerRule<any> => table[layer.kind];
