/**
 * `boost({ strength, strengthFactor, dutyCyclePeriod })`: boosting, a modifier of the k-winners
 * layer before it. Winners are chosen on x * exp(-strength * dutyCycle), so units that rarely win
 * get a head start; the strength is multiplied by `strengthFactor` once per epoch.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, boost } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), kwta({ percentOn: 0.1 }), boost({ strength: 1.5, strengthFactor: 0.85 }));
 */
import { checks, requireValid } from './checks.ts';
import type { BoostSettings } from './layer.ts';
import { modifyLast, type Network } from './network.ts';
import { kwtaRule } from './kwta.ts';

/**
 * Default boost settings (the paper's): what `boost` uses for every field it is not given.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, boost, defaultBoost } from 'winnow/dsl';
 * defaultBoost; // { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 }
 * const net = pipe(input([100]), dense(50), kwta({ k: 5 }), boost({ ...defaultBoost, strength: 2 }));
 */
export const defaultBoost: BoostSettings = { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 };

/**
 * Adds boosting to the k-winners layer it follows (only a `kwta` layer: anything else is a
 * compile-time error).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, boost } from 'winnow/dsl';
 * pipe(input([100]), dense(50), kwta({ k: 5 }), boost({}));
 */
export const boost = (options: Partial<BoostSettings> = {}) => {
  const settings: BoostSettings = {
    strength: requireValid('boost: strength', options.strength ?? defaultBoost.strength, checks.nonNegative),
    strengthFactor: requireValid('boost: strengthFactor', options.strengthFactor ?? defaultBoost.strengthFactor, checks.unitClosed),
    dutyCyclePeriod: requireValid('boost: dutyCyclePeriod', options.dutyCyclePeriod ?? defaultBoost.dutyCyclePeriod, checks.positiveInt),
  };
  return (net: Network<'kwta'>): Network<'kwta'> => modifyLast(net, 'boost', ['kwta'], (l) => ({ ...l, boost: settings }), kwtaRule);
};
