/**
 * What `dense` and `conv2d` share: the weight attributes and the checks of their weight and bias
 * shapes against the input.
 */
import type { Shape } from '../../dsl/shape.ts';
import { expectShape } from './op-def.ts';

/** Attributes of ops with a weight tensor. */
export const weightAttrs = { weightDensity: 'number', dropconnect: 'number', keptPerUnit: 'int', fanIn: 'int' } as const;

/** Problems with a weighted op's fanIn attribute, weight shape and bias shape. */
export const weightChecks = (units: number, fanIn: number, wShape: Shape, hasBias: boolean, inputs: ReadonlyArray<{ shape?: Shape }>, opFanIn: number): string[] => [
  ...(fanIn !== opFanIn ? [`fanIn attribute ${opFanIn} does not match the input's ${fanIn}`] : []),
  ...expectShape('weight', inputs[1].shape, wShape),
  ...(hasBias ? expectShape('bias', inputs[2].shape, [units]) : []),
];
