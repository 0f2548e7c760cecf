/**
 * `kwta({ percentOn | k, ... })`: k-winners-take-all. Keeps the k units with the largest
 * (boosted) values and zeroes the rest, at training *and* inference, so the layer's output is
 * sparse in both. k = round(n x percentOn); at inference k_inf = floor(k x kInferenceFactor).
 * For feature maps, winners are taken over C x H x W (default) or per position (`local`).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, boost } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }));
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import { inferenceK, roundHalfEven, type ActivationDensity } from './density.ts';
import { WinnowError } from './errors.ts';
import type { KwtaLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { formatShape, shapeSize, type Shape } from './shape.ts';

/**
 * Resolved sizes of a k-winners layer on an input shape (what `kwtaSizes` gives).
 *
 * @example
 * import * as E from 'fp-ts/Either';
 * import { kwtaSizes, type KwtaSizes } from 'winnow/dsl';
 * // local k-winners on a [64, 4, 4] feature map: 16 positions, 6 of 64 channels win at each
 * const sizes: E.Either<string, KwtaSizes> = kwtaSizes({ kind: 'kwta', percentOn: 0.1, kInferenceFactor: 1.5, local: true, breakTies: false, relu: false }, [64, 4, 4]);
 * // E.right({ n: 64, groups: 16, k: 6, kInference: 9, dutyCycles: 64 })
 */
export interface KwtaSizes {
  /** Units competing in one group (C x H x W globally, C per position when local). */
  readonly n: number;
  /** Number of competing groups per sample (1, or H x W when local). */
  readonly groups: number;
  /** Winners per group at training. */
  readonly k: number;
  /** Winners per group at inference. */
  readonly kInference: number;
  /** Duty-cycle entries (units for vectors, channels for feature maps). */
  readonly dutyCycles: number;
}

/**
 * Resolves k, k at inference and the group sizes of a k-winners layer, or says why it cannot.
 *
 * @example
 * import { kwtaSizes } from 'winnow/dsl';
 * kwtaSizes({ kind: 'kwta', k: 400, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false }, [32, 12, 12]);
 * // Right({ n: 4608, groups: 1, k: 400, kInference: 600, dutyCycles: 32 })
 */
export const kwtaSizes = (l: KwtaLayer, s: Shape): E.Either<string, KwtaSizes> => {
  if (l.local && s.length !== 3) return E.left(`local k-winners needs an image input [c, h, w], got ${formatShape(s)}`);
  const n = l.local ? s[0] : shapeSize(s);
  const groups = l.local ? s[1] * s[2] : 1;
  const k = l.k ?? roundHalfEven(n * (l.percentOn as number));
  if (k < 1) return E.left(`percentOn ${l.percentOn} of ${n} units gives k = 0`);
  if (k > n) return E.left(`k = ${k} exceeds the ${n} units it chooses from (input ${formatShape(s)})`);
  const kInference = inferenceK(k, l.kInferenceFactor);
  if (kInference > n) return E.left(`k at inference = floor(${k} x ${l.kInferenceFactor}) = ${kInference} exceeds the ${n} units it chooses from`);
  return E.right({ n, groups, k, kInference, dutyCycles: s.length === 3 ? s[0] : n });
};

/** Shape and parameter rules of `kwta`. */
export const kwtaRule: LayerRule<KwtaLayer> = {
  outputShape: (l, s) => E.map(() => s)(kwtaSizes(l, s)),
  params: () => ({ params: 0, nonzero: 0 }),
};

/** Options shared by both ways of giving k. */
interface KwtaCommon {
  /** k at inference = floor(k x kInferenceFactor); default 1.5. */
  readonly kInferenceFactor?: number;
  /** Feature maps only: winners per position over channels; default false (global). */
  readonly local?: boolean;
  /** Exactly k winners (ties broken by lower index); default false (all units >= the k-th value). */
  readonly breakTies?: boolean;
  /** Also zero negative winners; default false. */
  readonly relu?: boolean;
  readonly name?: string;
}

/**
 * Options of `kwta`: exactly one of `percentOn` (activation density) and `k`, plus
 * `kInferenceFactor` (default 1.5), `local`, `breakTies` and `relu` (default false) and `name`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, type KwtaOptions } from 'winnow/dsl';
 * const byDensity: KwtaOptions = { percentOn: 0.1 };
 * const byCount: KwtaOptions = { k: 20, kInferenceFactor: 2, breakTies: true };
 * // const both: KwtaOptions = { percentOn: 0.1, k: 20 }; // compile-time error
 * pipe(input([784]), dense(200), kwta(byDensity)).layers[1]; // { kind: 'kwta', percentOn: 0.1, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false }
 */
export type KwtaOptions =
  | (KwtaCommon & { readonly percentOn: ActivationDensity; readonly k?: never })
  | (KwtaCommon & { readonly k: number; readonly percentOn?: never });

/** Validates kwta settings that do not depend on the input shape (shared with model files). */
export const kwtaSettingsProblems = (o: { percentOn?: number; k?: number; kInferenceFactor: number }): string[] => {
  const problems: string[] = [];
  if ((o.percentOn === undefined) === (o.k === undefined)) problems.push('exactly one of percentOn and k must be given');
  if (o.percentOn !== undefined && o.percentOn * o.kInferenceFactor > 1 + 1e-12) {
    problems.push(`percentOn x kInferenceFactor must be <= 1, got ${o.percentOn} x ${o.kInferenceFactor} = ${o.percentOn * o.kInferenceFactor}`);
  }
  return problems;
};

/**
 * k-winners-take-all with k = round(n x percentOn) or a given k.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, maxPool2d, kwta } from 'winnow/dsl';
 * const net = pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 }), maxPool2d(2), kwta({ k: 400 }));
 */
export const kwta = (options: KwtaOptions) => {
  const kInferenceFactor = requireValid('kwta: kInferenceFactor', options.kInferenceFactor ?? 1.5, checks.atLeastOne);
  if (options.percentOn !== undefined) requireValid('kwta: percentOn', options.percentOn, checks.activationDensity);
  if (options.k !== undefined) requireValid('kwta: k', options.k, checks.positiveInt);
  const problems = kwtaSettingsProblems({ percentOn: options.percentOn, k: options.k, kInferenceFactor });
  if (problems.length) throw new WinnowError('model', `kwta: ${problems[0]}`);
  const layer: KwtaLayer = {
    kind: 'kwta',
    ...(options.percentOn !== undefined ? { percentOn: options.percentOn } : { k: options.k as number }),
    kInferenceFactor,
    local: options.local ?? false,
    breakTies: options.breakTies ?? false,
    relu: options.relu ?? false,
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  return <K extends OpenKind>(net: Network<K>): Network<'kwta'> => appendLayer(net, layer, kwtaRule);
};
