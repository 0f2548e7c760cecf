/**
 * The `cpu` backend: runs the programs the compiler generates for a CPU (specialised JavaScript
 * with WebAssembly SIMD matrix products, `compiler/codegen/js`). All data lives in one
 * WebAssembly memory: the model state first (the ModelState's tensors and momentum buffers become
 * views of it, so checkpoints and the runtime see every step at once), then the per-call inputs,
 * then the temporaries of the buffer plan. Programs are compiled once per batch size.
 */
import { compile, type ProgramKind } from '../../compiler/backend/compile.ts';
import { generateJs, type JsProgram } from '../../compiler/codegen/js/program.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { shapeSize } from '../../dsl/shape.ts';
import { WinnowError } from '../../dsl/errors.ts';
import type { Model } from '../backend.ts';
import { inferenceBatchFor } from '../evaluate.ts';
import type { ModelState } from '../model-state.ts';
import { drawRandoms, scalarValue, sumStats, type CallInputs } from '../compiled/host.ts';
import { align, layoutProgram } from './layout.ts';
import { assembleWat } from './wasm.ts';

interface Program {
  readonly run: (io: CallInputs) => void;
  readonly output: number;
  readonly stats?: number;
  readonly address: (v: number) => number;
  readonly js: JsProgram;
}


/** A model on the `cpu` backend. */
export const createCpuModel = async (lowered: Lowered, state: ModelState): Promise<Model> => {
  if (state.dtype !== 'float32') throw new WinnowError('backend', 'the cpu backend computes in float32; its state must be float32');
  // The state arena: every tensor, momentum buffer and (as floats) mask, in a fixed order.
  const arena = new Map<string, { offset: number; length: number }>();
  let end = 0;
  const place = (key: string, length: number) => {
    arena.set(key, { offset: end, length });
    end += align(length);
  };
  for (const [name, t] of state.tensors) place(`tensors:${name}`, t.data.length);
  for (const [name, m] of state.momentum) place(`momentum:${name}`, m.length);
  for (const [name, m] of state.masks) place(`masks:${name}`, m.length);
  const stateEnd = end;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((stateEnd * 4) / 65536) + 1 });
  let M = new Float32Array(memory.buffer);
  for (const [name, t] of state.tensors) M.set(t.data, arena.get(`tensors:${name}`)!.offset);
  for (const [name, m] of state.momentum) M.set(m, arena.get(`momentum:${name}`)!.offset);
  for (const [name, m] of state.masks) M.set(m, arena.get(`masks:${name}`)!.offset);
  const rebind = () => {
    M = new Float32Array(memory.buffer);
    const view = (key: string) => {
      const a = arena.get(key)!;
      return new Float32Array(memory.buffer, a.offset * 4, a.length);
    };
    for (const [name, t] of state.tensors) state.tensors.set(name, { ...t, data: view(`tensors:${name}`) });
    for (const name of state.momentum.keys()) state.momentum.set(name, view(`momentum:${name}`));
  };
  rebind();
  const ensure = (floats: number) => {
    const need = Math.ceil((floats * 4) / 65536) - memory.buffer.byteLength / 65536;
    if (need > 0) {
      memory.grow(need);
      rebind();
    }
  };

  const programs = new Map<string, Program>();
  const program = async (kind: ProgramKind, batch: number): Promise<Program> => {
    const key = `${kind}:${batch}`;
    const cached = programs.get(key);
    if (cached) return cached;
    const { schedule } = compile(lowered, { program: kind, batch });
    const ir = schedule.ir;
    const { address, scratch, copies } = layoutProgram(schedule, stateEnd, (key) => arena.get(key)?.offset);
    const js = generateJs(schedule, address, scratch);
    ensure(scratch + js.scratchFloats);
    const W = js.wat ? new WebAssembly.Instance(await assembleWat(js.wat), { env: { mem: memory } }).exports : {};
    const kernels = (new Function(`return (${js.source});`)() as (m: unknown, w: unknown) => Array<(m: Float32Array) => void>)(undefined, W);
    const hostOps = ir.ops.filter((o) => o.op === 'input' || o.op === 'labels' || o.op === 'scalar');
    const run = (io: CallInputs) => {
      if (M.buffer !== memory.buffer) rebind();
      for (const op of hostOps) {
        const at = address(op.id);
        if (op.op === 'input') M.set(io.x.subarray(0, batch * shapeSize(op.shape!)), at);
        else if (op.op === 'labels') for (let i = 0; i < batch; i++) M[at + i] = io.labels![i];
        else M[at] = scalarValue(op, io);
      }
      drawRandoms(ir, io, (op, n) => M.subarray(address(op.id), address(op.id) + n));
      for (const k of kernels) k(M);
      for (const [from, to, length] of copies) M.copyWithin(to, from, from + length);
    };
    const p: Program = { run, output: ir.output, stats: ir.results?.stats, address, js };
    programs.set(key, p);
    return p;
  };

  const ops = lowered.ir.ops;
  const classes = shapeSize(ops[lowered.ir.output].shape!);
  const inputSize = shapeSize(lowered.ir.inputShape);
  const activations = ops.filter((o) => o.batched).reduce((a, o) => a + shapeSize(o.shape!), 0);
  return {
    backend: 'cpu',
    lowered,
    state,
    classes,
    inputSize,
    inferenceBatch: inferenceBatchFor(activations * 2),
    predict: async (x, batch) => {
      const p = await program('inference', batch);
      p.run({ x, batch });
      const at = p.address(p.output);
      return M.slice(at, at + batch * classes);
    },
    trainStep: async (x, labels, batch, sgd, samplesSeen, rng) => {
      const p = await program('train', batch);
      p.run({ x, batch, labels, sgd, samplesSeen, rng });
      const at = p.address(p.stats!);
      const { loss, correct } = sumStats(M.subarray(at, at + 2 * batch), batch);
      return Number.isFinite(loss) ? { loss, correct } : { loss, correct, nonFinite: 'the loss (the cpu backend does not say which layer; run with --backend reference to find it)' };
    },
    endEpoch: async () => {
      const p = await program('epochEnd', 1);
      p.run({ x: new Float32Array(inputSize), batch: 1 });
    },
    /** Compiled programs' generated sources, for `winnow inspect --kernels` and `winnow build`. */
    ...{ programSource: async (kind: ProgramKind, batch: number) => (await program(kind, batch)).js },
  } as Model;
};
