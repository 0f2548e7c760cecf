/**
 * Shapes of activations, per sample (no batch dimension): `[n]` for vectors, `[c, h, w]` for
 * images and feature maps.
 *
 * @example
 * import { shapeSize, formatShape } from 'winnow/dsl';
 * shapeSize([32, 12, 12]); // 4608
 * formatShape([32, 12, 12]); // "[32, 12, 12]"
 */
export type Shape = ReadonlyArray<number>;

/**
 * Number of elements of a per-sample shape.
 *
 * @example
 * import { shapeSize } from 'winnow/dsl';
 * shapeSize([64, 4, 4]); // 1024
 */
export const shapeSize = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/**
 * A shape as it reads in messages: `[32, 12, 12]`.
 *
 * @example
 * import { formatShape } from 'winnow/dsl';
 * formatShape([32, 12, 12]); // '[32, 12, 12]'
 */
export const formatShape = (s: Shape): string => `[${s.join(', ')}]`;

/** True for a `[c, h, w]` shape. */
export const isImageShape = (s: Shape): s is readonly [number, number, number] => s.length === 3;

/** True for a `[n]` shape. */
export const isVectorShape = (s: Shape): s is readonly [number] => s.length === 1;

/** Structural equality of shapes. */
export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
