/**
 * What every compiled backend does on the host around a program: binds each source op to its data
 * (the batch, labels, hyperparameters, host-drawn random masks, and the model state's tensors,
 * momentum buffers and masks) and reads the per-sample statistics back.
 *
 * Random keep-masks (dropout, DropConnect) are drawn from the training stream in program order,
 * one `rng.float() >= rate` per element: exactly the reference backend's draws, so every backend
 * trains on the same masks.
 */
import type { IR, Op } from '../../compiler/ir.ts';
import { floatsOf } from '../../compiler/backend/passes/plan-buffers.ts';
import { sourceName, type ModelState } from '../model-state.ts';
import type { SgdSettings } from '../optimizer.ts';
import type { Rng } from '../rng.ts';

/** Per-call inputs of a program. */
export interface CallInputs {
  readonly x: Float32Array;
  readonly batch: number;
  readonly labels?: Uint8Array;
  readonly sgd?: SgdSettings;
  readonly samplesSeen?: number;
  readonly rng?: Rng;
}

/**
 * The state map a persistent source lives in, and its name there. A `maskIndex` (a sparse
 * weight's per-unit index lists) is in map `maskIndex` under its weight's name: derived from the
 * mask of that name (`maskIndexData`) whenever the backend binds the state, never saved.
 */
export const stateSlot = (op: Op): { readonly map: 'tensors' | 'momentum' | 'masks' | 'maskIndex'; readonly name: string } | undefined => {
  switch (op.op) {
    case 'param':
    case 'state':
      return { map: 'tensors', name: sourceName(op) };
    case 'moment':
      return { map: 'momentum', name: `l${op.layer}.${op.attrs.role as string}` };
    case 'mask':
      return { map: 'masks', name: `l${op.layer}.weight` };
    case 'maskIndex':
      return { map: 'maskIndex', name: `l${op.layer}.weight` };
    default:
      return undefined;
  }
};

/** The value of a scalar source. */
export const scalarValue = (op: Op, io: CallInputs): number => {
  switch (op.attrs.role) {
    case 'lr':
      return io.sgd?.lr ?? 0;
    case 'momentum':
      return io.sgd?.momentum ?? 0;
    case 'weightDecay':
      return io.sgd?.weightDecay ?? 0;
    default:
      return io.samplesSeen ?? 0;
  }
};

/** Draws every random keep-mask of a program, in program order, into `into` (or new arrays). */
export const drawRandoms = (ir: IR, io: CallInputs, into?: (op: Op, length: number) => Float32Array): Map<number, Float32Array> => {
  const out = new Map<number, Float32Array>();
  for (const op of ir.ops) {
    if (op.op !== 'random') continue;
    if (!io.rng) throw new Error('a training program with random masks needs a random stream');
    const n = floatsOf(ir, op.id, io.batch);
    const mask = into ? into(op, n) : new Float32Array(n);
    const rate = op.attrs.rate as number;
    for (let i = 0; i < n; i++) mask[i] = io.rng.float() >= rate ? 1 : 0;
    out.set(op.id, mask);
  }
  return out;
};

// maskIndexData lives in ./mask-index.ts, which imports no compiler code, so the gpu.js runner
// (bundled into `winnow build --backend gpujs:*` modules) can use it too.
export { maskIndexData, maskIndexFromState, type IndexEncoding } from './mask-index.ts';
import { maskIndexFromState, type IndexEncoding } from './mask-index.ts';

/** The index lists of a `maskIndex` source from the state's mask, as new floats in `encoding` (see `maskIndexData`). */
export const maskIndexOf = (state: ModelState, op: Op, encoding: IndexEncoding, into?: Float32Array): Float32Array => {
  const { units, fanIn, kept } = op.attrs as Record<string, number>;
  return maskIndexFromState(state.masks, stateSlot(op)!.name, units, kept, into ?? new Float32Array(units * kept), encoding, fanIn);
};

/** A state source's data as float32 (masks converted once per call site; callers may cache; index lists as floats). */
export const stateData = (state: ModelState, op: Op): ArrayLike<number> => {
  const slot = stateSlot(op)!;
  if (slot.map === 'maskIndex') return maskIndexOf(state, op, 'float');
  if (slot.map === 'tensors') return state.tensors.get(slot.name)!.data;
  if (slot.map === 'momentum') return state.momentum.get(slot.name)!;
  return state.masks.get(slot.name)!;
};
