/**
 * Pass `planBuffers`: gives every materialised value a buffer for a batch size. Sources live in
 * `state` (parameters, layer state, momentum, masks: persistent) or `host` (input, labels, random
 * masks, scalars: written per call) buffers. Kernel outputs are `temp` buffers, reused greedily
 * once every reader of their previous value has run. An update is computed in place into its
 * source's buffer when its kernel reads the source only elementwise and nothing reads the source
 * afterwards (optimizer steps); otherwise it gets a temp buffer and is copied back at the end.
 */
import type { IR } from '../../ir.ts';
import { isSource, opDef } from '../../ops/index.ts';
import { size } from '../../ops/prim/helpers.ts';
import type { Buffer, BufferPlan, Schedule } from '../schedule.ts';
import { externalValues } from './fuse.ts';

/** Floats a value needs for a batch. */
export const floatsOf = (ir: IR, id: number, batch: number): number => {
  const op = ir.ops[id];
  return size(op.shape!) * (op.batched ? batch : 1);
};

const hostSources = new Set(['input', 'labels', 'random', 'scalar']);

/** Buffers are aligned to 4 floats (16 bytes: whole SIMD lanes). */
const align = (n: number) => (n + 3) & ~3;

/** The buffer planning pass for a batch size. */
export const planBuffers = (batch: number) => (s: Schedule): Schedule => {
  const { ir, kernels } = s;
  const kernelOf = new Map<number, number>();
  kernels.forEach((k) => k.ops.forEach((o) => kernelOf.set(o, k.index)));
  const external = externalValues(ir);
  const lastRead = new Map<number, number>();
  for (const k of kernels) for (const o of k.ops) for (const i of ir.ops[o].inputs) lastRead.set(i, k.index);
  for (const v of external) lastRead.set(v, kernels.length);

  const buffers: Buffer[] = [];
  const bufferOf = new Map<number, number>();
  const offsets = { state: 0, host: 0, temp: 0 };
  const add = (kind: Buffer['kind'], length: number, values: number[]): number => {
    const id = buffers.length;
    buffers.push({ id, kind, offset: offsets[kind], length, values });
    offsets[kind] += align(length);
    for (const v of values) bufferOf.set(v, id);
    return id;
  };
  for (const op of ir.ops) if (isSource(op.op)) add(hostSources.has(op.op) ? 'host' : 'state', floatsOf(ir, op.id, batch), [op.id]);

  // In-place updates: the kernel reads the source only through elementwise ops, and nothing reads it later.
  const inPlace = new Set<number>();
  for (const u of ir.updates ?? []) {
    const k = kernelOf.get(u.value);
    if (k === undefined || (lastRead.get(u.source) ?? -1) > k) continue;
    const readers = kernels[k].ops.filter((o) => ir.ops[o].inputs.includes(u.source));
    const elementwiseOnly = readers.every((o) => opDef(ir.ops[o].op).elementwise !== undefined && String(ir.ops[o].shape) === String(ir.ops[u.source].shape));
    const readElsewhere = ir.updates!.some((w) => w !== u && w.source === u.source);
    if (elementwiseOnly && !readElsewhere) {
      inPlace.add(u.value);
      bufferOf.set(u.value, bufferOf.get(u.source)!);
      (buffers[bufferOf.get(u.source)!].values as number[]).push(u.value);
    }
  }

  // Temps: greedy reuse of free buffers of the same length (best fit by exact size first).
  const free: number[] = [];
  const release: Map<number, number[]> = new Map();
  let unshared = 0;
  for (const k of kernels) {
    for (const b of release.get(k.index - 1) ?? []) free.push(b);
    const v = k.output;
    if (inPlace.has(v)) continue;
    const length = floatsOf(ir, v, batch);
    unshared += align(length);
    const slot = free.findIndex((b) => buffers[b].length === length);
    let id: number;
    if (slot >= 0) {
      id = free.splice(slot, 1)[0];
      (buffers[id].values as number[]).push(v);
      bufferOf.set(v, id);
    } else id = add('temp', length, [v]);
    const last = lastRead.get(v) ?? k.index;
    release.set(last, [...(release.get(last) ?? []), id]);
  }
  const plan: BufferPlan = { batch, buffers, bufferOf, inPlace, tempFloats: offsets.temp, tempFloatsUnshared: unshared };
  return { ...s, plan };
};
