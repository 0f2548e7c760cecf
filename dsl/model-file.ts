/**
 * Model files: the same networks as the DSL builds, as JSON, decoded with io-ts codecs.
 *
 * A file looks like
 * ```json
 * { "format": "winnow.model/1", "name": "sparse_mlp", "input": [784],
 *   "layers": [ { "dense": { "units": 1000, "weightDensity": 0.5 } },
 *               { "kwta": { "percentOn": 0.1, "boost": { "strength": 1.5 } } },
 *               { "dense": { "units": 10 } }, { "softmaxCrossEntropy": {} } ],
 *   "training": { "lr": 0.01, "epochs": 3 } }
 * ```
 * Each layer is an object whose only key is its kind. Every field is checked against its rule;
 * unknown fields are errors; a bad file yields *every* problem with its JSON path, for example
 * `layers[3].kwta.percentOn: must be in (0, 1), got 1.2`. Sizes are bounded by `limits`.
 *
 * @example
 * import { modelFromJSON, modelToJSON } from 'winnow/dsl';
 * const net = modelFromJSON({ input: [4], layers: [{ dense: { units: 2 } }, { softmaxCrossEntropy: {} }] });
 * modelToJSON(net).layers[0]; // { dense: { units: 2, weightDensity: 1, dropconnect: 0, bias: true } }
 */
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import * as t from 'io-ts';
import { batchNorm } from './batch-norm.ts';
import { boost } from './boost.ts';
import { checks, showValue, violation, type Check } from './checks.ts';
import { conv2d } from './conv2d.ts';
import { dense } from './dense.ts';
import { dropconnect } from './dropconnect.ts';
import { dropout } from './dropout.ts';
import { ShapeError, WinnowError } from './errors.ts';
import { flatten } from './flatten.ts';
import { kwta, kwtaSettingsProblems } from './kwta.ts';
import type { Layer, LayerKind } from './layer.ts';
import { layerKinds } from './layer.ts';
import { maxPool2d } from './max-pool2d.ts';
import { identifierPattern, identifierRule, input, limits, named, trainingChecks, withTraining, type Network, type TrainingDefaults } from './network.ts';
import { relu } from './relu.ts';
import { softmaxCrossEntropy } from './softmax-cross-entropy.ts';
import { sparse } from './sparse.ts';

/**
 * The format tag written into every model file (optional when reading; any other value is an
 * error).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, modelFormat, modelToJSON } from 'winnow/dsl';
 * modelFormat; // 'winnow.model/1'
 * modelToJSON(pipe(input([4]), dense(2))).format === modelFormat; // true
 */
export const modelFormat = 'winnow.model/1';

const show = showValue;

const num = (check: Check): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(
    'number',
    (u): u is number => typeof u === 'number' && check.test(u),
    (u, c) => {
      const v = violation(u, check);
      return v === undefined ? t.success(u as number) : t.failure(u, c, v);
    },
    t.identity,
  );

const bool = new t.Type<boolean, boolean, unknown>(
  'boolean',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => (typeof u === 'boolean' ? t.success(u) : t.failure(u, c, `must be true or false, got ${show(u)}`)),
  t.identity,
);

const identifier = new t.Type<string, string, unknown>(
  'identifier',
  (u): u is string => typeof u === 'string' && identifierPattern.test(u),
  (u, c) =>
    typeof u === 'string' && identifierPattern.test(u)
      ? t.success(u)
      : t.failure(u, c, `${identifierRule}, got ${show(u)}`),
  t.identity,
);

const formatTag = new t.Type<string, string, unknown>(
  'format',
  (u): u is string => u === modelFormat,
  (u, c) => (u === modelFormat ? t.success(modelFormat) : t.failure(u, c, `must be "${modelFormat}", got ${show(u)}`)),
  t.identity,
);

const shapeCodec = new t.Type<number[], number[], unknown>(
  'shape',
  (u): u is number[] => Array.isArray(u),
  (u, c) => {
    const ok =
      Array.isArray(u) &&
      (u.length === 1 || u.length === 3) &&
      u.every((d) => Number.isInteger(d) && d > 0 && d <= limits.maxDimension);
    return ok ? t.success([...(u as number[])]) : t.failure(u, c, `must be [n] or [c, h, w] of positive integers <= ${limits.maxDimension}, got ${show(u)}`);
  },
  t.identity,
);

const isPlainObject = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

/** An object codec that reports missing required fields and unknown fields as errors. */
const strictObject = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) =>
  new t.Type<t.TypeOf<t.TypeC<R>> & Partial<t.TypeOf<t.TypeC<O>>>, unknown, unknown>(
    name,
    (u): u is any => isPlainObject(u),
    (u, c) => {
      if (!isPlainObject(u)) return t.failure(u, c, `must be an object, got ${show(u)}`);
      const errors: t.ValidationError[] = [];
      const out: Record<string, unknown> = {};
      const field = (key: string, codec: t.Mixed) => {
        const r = codec.validate(u[key], [...c, { key, type: codec, actual: u[key] }]);
        if (E.isLeft(r)) errors.push(...r.left);
        else out[key] = r.right;
      };
      const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
      for (const key of Object.keys(required)) {
        if (!has(u, key)) errors.push({ value: undefined, context: [...c, { key, type: required[key], actual: undefined }], message: 'is required' });
        else field(key, required[key]);
      }
      for (const key of Object.keys(optional)) if (has(u, key) && u[key] !== undefined) field(key, optional[key]);
      for (const key of Object.keys(u)) {
        if (!has(required, key) && !has(optional, key)) {
          const known = [...Object.keys(required), ...Object.keys(optional)].join(', ');
          errors.push({ value: u[key], context: [...c, { key, type: t.unknown, actual: u[key] }], message: `unknown field (known: ${known || 'none'})` });
        }
      }
      return errors.length ? t.failures(errors) : t.success(out as any);
    },
    t.identity,
  );

const name = { name: identifier };
const weights = { weightDensity: num(checks.weightDensity), dropconnect: num(checks.rate), bias: bool };

const boostCodec = strictObject('boost', {}, {
  strength: num(checks.nonNegative),
  strengthFactor: num(checks.unitClosed),
  dutyCyclePeriod: num(checks.positiveInt),
});

const kwtaFields = strictObject('kwta', {}, {
  percentOn: num(checks.activationDensity),
  k: num(checks.positiveInt),
  kInferenceFactor: num(checks.atLeastOne),
  local: bool,
  breakTies: bool,
  relu: bool,
  boost: boostCodec,
  ...name,
});

/** kwta adds cross-field rules (exactly one of percentOn and k; percentOn x kInferenceFactor <= 1). */
const kwtaCodec = new t.Type<t.TypeOf<typeof kwtaFields>, unknown, unknown>(
  'kwta',
  kwtaFields.is,
  (u, c) =>
    pipe(
      kwtaFields.validate(u, c),
      E.chain((v) => {
        const problems = kwtaSettingsProblems({ percentOn: v.percentOn, k: v.k, kInferenceFactor: v.kInferenceFactor ?? 1.5 });
        return problems.length ? t.failures(problems.map((message) => ({ value: u, context: c, message }))) : t.success(v);
      }),
    ),
  t.identity,
);

const bodyCodecs: { readonly [K in LayerKind]: t.Mixed } = {
  dense: strictObject('dense', { units: num(checks.positiveInt) }, { ...weights, ...name }),
  conv2d: strictObject('conv2d', { filters: num(checks.positiveInt), kernel: num(checks.positiveInt) }, {
    stride: num(checks.positiveInt),
    padding: num(checks.nonNegativeInt),
    ...weights,
    ...name,
  }),
  maxPool2d: strictObject('maxPool2d', { size: num(checks.positiveInt) }, name),
  flatten: strictObject('flatten', {}, name),
  relu: strictObject('relu', {}, name),
  batchNorm: strictObject('batchNorm', {}, { affine: bool, momentum: num(checks.unitHalfOpen), epsilon: num(checks.positive), ...name }),
  kwta: kwtaCodec,
  dropout: strictObject('dropout', { rate: num(checks.rate) }, name),
  softmaxCrossEntropy: strictObject('softmaxCrossEntropy', {}, name),
};

/** A decoded layer entry: its kind and its (validated) fields. */
interface LayerEntry {
  readonly kind: LayerKind;
  readonly body: Record<string, any>;
}

const layerCodec = new t.Type<LayerEntry, unknown, unknown>(
  'layer',
  (u): u is LayerEntry => isPlainObject(u),
  (u, c) => {
    const keys = isPlainObject(u) ? Object.keys(u) : [];
    if (!isPlainObject(u) || keys.length !== 1 || !(layerKinds as string[]).includes(keys[0])) {
      return t.failure(u, c, `must be an object with one layer kind as its only key (one of ${layerKinds.join(', ')}), got ${show(u)}`);
    }
    const kind = keys[0] as LayerKind;
    const codec = bodyCodecs[kind];
    return pipe(
      codec.validate(u[kind], [...c, { key: kind, type: codec, actual: u[kind] }]),
      E.map((body) => ({ kind, body: body as Record<string, any> })),
    );
  },
  t.identity,
);

const layersCodec = new t.Type<LayerEntry[], unknown, unknown>(
  'layers',
  (u): u is LayerEntry[] => Array.isArray(u),
  (u, c) => {
    if (!Array.isArray(u)) return t.failure(u, c, `must be an array of layers, got ${show(u)}`);
    if (u.length > limits.maxLayers) return t.failure(u, c, `must have at most ${limits.maxLayers} layers, got ${u.length}`);
    const errors: t.ValidationError[] = [];
    const out: LayerEntry[] = [];
    u.forEach((item, i) => {
      const r = layerCodec.validate(item, [...c, { key: String(i), type: layerCodec, actual: item }]);
      if (E.isLeft(r)) errors.push(...r.left);
      else out.push(r.right);
    });
    return errors.length ? t.failures(errors) : t.success(out);
  },
  t.identity,
);

const trainingCodec = strictObject(
  'training',
  {},
  Object.fromEntries(Object.entries(trainingChecks).map(([k, check]) => [k, num(check as Check)])) as Record<keyof TrainingDefaults, t.Type<number, number, unknown>>,
);

const modelCodec = strictObject('model', { input: shapeCodec, layers: layersCodec }, {
  format: formatTag,
  name: identifier,
  description: t.string,
  training: trainingCodec,
});

/** `layers[3].kwta.percentOn` from an io-ts context. */
const formatPath = (context: t.Context): string => {
  let path = '';
  for (let i = 1; i < context.length; i++) {
    const parent = context[i - 1].actual;
    path += Array.isArray(parent) ? `[${context[i].key}]` : path === '' ? context[i].key : `.${context[i].key}`;
  }
  return path === '' ? '(root)' : path;
};

/** One line per problem: `path: rule, got value`. */
const formatErrors = (errors: t.Errors): string[] => [...new Set(errors.map((e) => `${formatPath(e.context)}: ${e.message ?? `invalid value ${show(e.value)}`}`))];

/** Applies one decoded layer entry through the DSL combinators (which own the defaults). */
const applyLayer = (net: Network<any>, { kind, body: b }: LayerEntry): Network<any> => {
  const opt = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const weighted = (n: Network<any>): Network<any> =>
    pipe(n, (x) => (b.weightDensity !== undefined && b.weightDensity !== 1 ? sparse(b.weightDensity)(x) : x), (x) =>
      b.dropconnect !== undefined && b.dropconnect !== 0 ? dropconnect(b.dropconnect)(x) : x,
    );
  switch (kind) {
    case 'dense':
      return weighted(dense(b.units, opt({ bias: b.bias, name: b.name }))(net));
    case 'conv2d':
      return weighted(conv2d(opt({ filters: b.filters, kernel: b.kernel, stride: b.stride, padding: b.padding, bias: b.bias, name: b.name }))(net));
    case 'maxPool2d':
      return maxPool2d(b.size, opt({ name: b.name }))(net);
    case 'flatten':
      return flatten(net);
    case 'relu':
      return relu(net);
    case 'batchNorm':
      return batchNorm(opt({ affine: b.affine, momentum: b.momentum, epsilon: b.epsilon, name: b.name }))(net);
    case 'kwta': {
      const common = opt({ kInferenceFactor: b.kInferenceFactor, local: b.local, breakTies: b.breakTies, relu: b.relu, name: b.name });
      const k = kwta(b.k !== undefined ? { ...common, k: b.k } : { ...common, percentOn: b.percentOn })(net);
      return b.boost !== undefined ? boost(opt(b.boost))(k) : k;
    }
    case 'dropout':
      return dropout(b.rate, opt({ name: b.name }))(net);
    case 'softmaxCrossEntropy':
      return softmaxCrossEntropy(net);
  }
};

/** Names a flattened layer's settings where a plain `flatten`/`relu` carries a name. */
const withName = (net: Network<any>, name: string | undefined): Network<any> => {
  if (name === undefined) return net;
  const i = net.layers.length - 1;
  const layers = [...net.layers];
  layers[i] = { ...layers[i], name } as Layer;
  return { ...net, layers };
};

/**
 * Decodes a model from parsed JSON: `Right(network)` or `Left(problems)`, one line per problem
 * with its JSON path and the rule broken.
 *
 * @example
 * import { decodeModel } from 'winnow/dsl';
 * decodeModel({ input: [4], layers: [{ dense: { units: 0 } }] });
 * // Left(['layers[0].dense.units: must be a positive integer, got 0'])
 */
export const decodeModel = (json: unknown): E.Either<ReadonlyArray<string>, Network> => {
  const decoded = modelCodec.decode(json);
  if (E.isLeft(decoded)) return E.left(formatErrors(decoded.left));
  const m = decoded.right;
  try {
    let net: Network<any> = input(m.input);
    m.layers.forEach((entry, i) => {
      try {
        net = withName(applyLayer(net, entry), (entry.kind === 'flatten' || entry.kind === 'relu' || entry.kind === 'softmaxCrossEntropy') ? entry.body.name : undefined);
      } catch (e) {
        if (e instanceof ShapeError && e.layerIndex !== undefined) throw new WinnowError('model', `layers[${i}].${entry.kind}: ${e.detail}`);
        if (e instanceof ShapeError) throw new WinnowError('model', `layers: ${e.detail}`);
        if (e instanceof WinnowError) throw new WinnowError('model', `layers[${i}].${entry.kind}: ${e.message}`);
        throw e;
      }
    });
    if (m.name !== undefined) net = named(m.name)(net);
    if (m.training !== undefined) net = withTraining(m.training)(net);
    return E.right(net);
  } catch (e) {
    if (e instanceof WinnowError) return E.left([e.message]);
    throw e;
  }
};

/**
 * Decodes a model from parsed JSON, throwing a `WinnowError('model')` that lists every problem.
 *
 * @example
 * import { modelFromJSON } from 'winnow/dsl';
 * const net = modelFromJSON({ input: [784], layers: [{ dense: { units: 10 } }, { softmaxCrossEntropy: {} }] });
 */
export const modelFromJSON = (json: unknown, source = 'model'): Network => {
  const r = decodeModel(json);
  if (E.isLeft(r)) throw modelProblems(source, r.left);
  return r.right;
};

const modelProblems = (source: string, problems: ReadonlyArray<string>): WinnowError =>
  new WinnowError(
    'model',
    `${source}: ${problems.length === 1 ? 'invalid model' : `${problems.length} problems`}\n${problems.map((p) => `  ${p}`).join('\n')}`,
    problems,
  );

/** The JSON form of one layer, with every field written out. */
const layerToJSON = (l: Layer): Record<string, unknown> => {
  const { kind, ...fields } = l;
  return { [kind]: fields };
};

/**
 * The canonical JSON form of a network (every field written, defaults included). Decoding it
 * gives back an equal network.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy, modelToJSON } from 'winnow/dsl';
 * JSON.stringify(modelToJSON(pipe(input([4]), dense(2), softmaxCrossEntropy)));
 */
export const modelToJSON = (net: Network<any>): ModelJSON => ({
  format: modelFormat,
  ...(net.name !== undefined ? { name: net.name } : {}),
  input: [...net.input],
  layers: net.layers.map(layerToJSON),
  ...(net.training !== undefined ? { training: { ...net.training } } : {}),
});

/**
 * The JSON form of a model file: what `modelToJSON` writes (every field, `format` included);
 * `modelFromJSON` also accepts files without `format` or with fields left at their defaults.
 *
 * @example
 * import { modelFromJSON, type ModelJSON } from 'winnow/dsl';
 * const json: ModelJSON = { format: 'winnow.model/1', input: [4], layers: [{ dense: { units: 2 } }, { softmaxCrossEntropy: {} }] };
 * modelFromJSON(json).shapes; // [[2], [2]]
 */
export interface ModelJSON {
  readonly format: string;
  readonly name?: string;
  readonly description?: string;
  readonly input: number[];
  readonly layers: Array<Record<string, unknown>>;
  readonly training?: TrainingDefaults;
}
