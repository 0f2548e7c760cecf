/**
 * Training checkpoints: the model file, hyperparameters, progress, seed, RNG state and metrics in
 * the manifest, and the model state (weights, masks, momentum, duty cycles, boost strengths,
 * running statistics) as checksummed binary tensors, written atomically by `store.ts`.
 *
 * Loading validates the manifest (io-ts, every field by path), re-decodes the model with the
 * model codec, and checks every tensor against the shapes the model implies, so a checkpoint that
 * does not belong to its model is refused with a clear message.
 *
 * @example
 * import { loadCheckpoint } from 'winnow/runtime/checkpoint/checkpoint';
 * const { network, state, meta } = loadCheckpoint('runs/sparse-mlp');
 */
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { lower, trace, type Lowered } from '../../compiler/index.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { decodeModel, modelToJSON } from '../../dsl/model-file.ts';
import type { Network } from '../../dsl/network.ts';
import { stateLayout, type ModelState } from '../model-state.ts';
import type { Arr } from '../reference/kernel.ts';
import { readCheckpoint, writeCheckpoint, type StoredTensor } from './store.ts';

/** Tag of winnow's run checkpoints (inside the store's manifest `meta`). */
export const runFormat = 'winnow.run/1';

const finite = new t.Type<number, number, unknown>('number', (u): u is number => typeof u === 'number' && Number.isFinite(u), (u, c) => (typeof u === 'number' && Number.isFinite(u) ? t.success(u) : t.failure(u, c)), t.identity);
const nat = new t.Type<number, number, unknown>('non-negative integer', (u): u is number => Number.isInteger(u) && (u as number) >= 0, (u, c) => (Number.isInteger(u) && (u as number) >= 0 ? t.success(u as number) : t.failure(u, c)), t.identity);
const uint32 = new t.Type<number, number, unknown>('uint32', (u): u is number => Number.isInteger(u) && (u as number) >= 0 && (u as number) <= 0xffffffff, (u, c) => (Number.isInteger(u) && (u as number) >= 0 && (u as number) <= 0xffffffff ? t.success(u as number) : t.failure(u, c)), t.identity);

/** Hyperparameters of a run. */
export const hyperparametersCodec = t.strict({
  epochs: nat,
  batchSize: nat,
  firstEpochBatchSize: nat,
  lr: finite,
  lrGamma: finite,
  momentum: finite,
  weightDecay: finite,
  trainLimit: t.union([nat, t.null]),
});
export type Hyperparameters = t.TypeOf<typeof hyperparametersCodec>;

/** One epoch's metrics. */
export const epochMetricsCodec = t.strict({
  epoch: nat,
  loss: finite,
  trainAccuracy: finite,
  testAccuracy: t.union([finite, t.null]),
  seconds: finite,
  samplesPerSecond: finite,
  lr: finite,
});
export type EpochMetrics = t.TypeOf<typeof epochMetricsCodec>;

/** Sums of an epoch interrupted part-way, so its metrics continue on resume. */
export const partialEpochCodec = t.strict({ lossSum: finite, correct: nat, samples: nat, seconds: finite });
export type PartialEpoch = t.TypeOf<typeof partialEpochCodec>;

const metaCodec = t.intersection([t.strict({
  format: t.literal(runFormat),
  model: t.unknown,
  hyperparameters: hyperparametersCodec,
  seed: nat,
  backend: t.string,
  dtype: t.union([t.literal('float32'), t.literal('float64')]),
  progress: t.strict({ epochsDone: nat, batchInEpoch: nat, samplesSeen: nat, step: nat }),
  rng: t.strict({ dropout: t.tuple([uint32, uint32, uint32, uint32]) }),
  metrics: t.array(epochMetricsCodec),
  interrupted: t.boolean,
}), t.partial({ partial: partialEpochCodec })]);

/** Everything in a checkpoint's manifest besides the tensors. */
export type CheckpointMeta = t.TypeOf<typeof metaCodec>;

/** A loaded checkpoint. */
export interface LoadedRun {
  readonly network: Network;
  readonly lowered: Lowered;
  readonly state: ModelState;
  readonly meta: CheckpointMeta;
}

/** Writes a run checkpoint atomically to `dir`. */
export const saveCheckpoint = (dir: string, network: Network, state: ModelState, meta: Omit<CheckpointMeta, 'format' | 'model' | 'dtype'>): void => {
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, s] of state.tensors) tensors[name] = { data: s.data, shape: s.shape };
  for (const [name, m] of state.masks) tensors[`${name}.mask`] = { data: m, shape: state.tensors.get(name)!.shape };
  for (const [name, m] of state.momentum) tensors[`${name}.momentum`] = { data: m, shape: state.tensors.get(name)!.shape };
  writeCheckpoint(dir, { format: runFormat, model: modelToJSON(network), dtype: state.dtype, ...meta }, tensors);
};

/** `progress.epochsDone` from an io-ts context (intersection members add no path segment). */
const pathOf = (c: t.Context): string =>
  c
    .slice(1)
    .filter((_, i) => (c[i].type as { _tag?: string })._tag !== 'IntersectionType')
    .map((e) => e.key)
    .join('.') || '(root)';

/** Reads, verifies and rebuilds a run checkpoint. */
export const loadCheckpoint = (dir: string): LoadedRun => {
  const { meta: raw, tensors } = readCheckpoint(dir);
  const fail = (msg: string): never => {
    throw new WinnowError('checkpoint', `checkpoint ${dir}: ${msg}`);
  };
  if ((raw as { format?: unknown }).format !== runFormat) fail(`not a winnow training checkpoint (meta.format is ${JSON.stringify((raw as { format?: unknown }).format)}, expected "${runFormat}")`);
  const decoded = metaCodec.decode(raw);
  if (E.isLeft(decoded)) {
    const e = decoded.left[0];
    fail(`manifest field meta.${pathOf(e.context)} is invalid (got ${JSON.stringify(e.value) ?? 'nothing'})`);
  }
  const meta = (decoded as E.Right<CheckpointMeta>).right;
  const net = decodeModel(meta.model);
  if (E.isLeft(net)) fail(`its model is invalid: ${net.left.join('; ')}`);
  const network = (net as E.Right<Network>).right;
  const lowered = lower(trace(network));
  const take = (name: string, shape: ReadonlyArray<number>, kind: 'float' | 'mask'): StoredTensor['data'] => {
    const tensor = tensors.get(name);
    if (!tensor) return fail(`tensor '${name}' is missing`);
    const ok = tensor.shape.length === shape.length && tensor.shape.every((d, i) => d === shape[i]);
    if (!ok) fail(`tensor '${name}' has shape [${tensor.shape.join(', ')}], but the model needs [${shape.join(', ')}]`);
    const dtypeOk = kind === 'mask' ? tensor.data instanceof Uint8Array : meta.dtype === 'float64' ? tensor.data instanceof Float64Array : tensor.data instanceof Float32Array;
    if (!dtypeOk) fail(`tensor '${name}' has the wrong element type for a ${kind === 'mask' ? 'mask' : meta.dtype} model`);
    return tensor.data;
  };
  const state: ModelState = { dtype: meta.dtype, tensors: new Map(), masks: new Map(), momentum: new Map() };
  const known = new Set<string>();
  // The layout the model implies: every tensor must be there, with its shape and type.
  for (const { op, name, shape, mask: sparse } of stateLayout(lowered)) {
    const w = take(name, shape, 'float') as Arr;
    state.tensors.set(name, { name, shape, data: w });
    known.add(name);
    if (op.op === 'param') {
      state.momentum.set(name, take(`${name}.momentum`, shape, 'float') as Arr);
      known.add(`${name}.momentum`);
    }
    if (!sparse) continue;
    const mask = take(`${name}.mask`, shape, 'mask') as Uint8Array;
    known.add(`${name}.mask`);
    for (let u = 0; u < shape[0]; u++) {
      let count = 0;
      for (let i = u * sparse.fanIn; i < (u + 1) * sparse.fanIn; i++) {
        if (mask[i] > 1) fail(`tensor '${name}.mask' holds a value other than 0 and 1`);
        count += mask[i];
        if (!mask[i] && w[i] !== 0) fail(`tensor '${name}' has a non-zero weight where its mask is 0 (unit ${u})`);
      }
      if (count !== sparse.kept) fail(`tensor '${name}.mask' keeps ${count} inputs for unit ${u}, but the model keeps ${sparse.kept} per unit`);
    }
    state.masks.set(name, mask);
  }
  for (const name of tensors.keys()) if (!known.has(name)) fail(`tensor '${name}' does not belong to this model`);
  return { network, lowered, state, meta };
};
