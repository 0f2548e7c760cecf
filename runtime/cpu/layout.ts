/**
 * Where a compiled program's values live in the cpu backend's memory (shared by the in-process
 * `cpu` model and `winnow build`): state sources at their arena slots, then from `base` the
 * per-call inputs of the buffer plan, then its temporaries, then the scratch area of the matrix
 * products. Updates not computed in place are copied back to their source after the kernels.
 */
import type { CompileOptions } from '../../compiler/backend/compile.ts';
import { floatsOf } from '../../compiler/backend/passes/plan-buffers.ts';
import type { Schedule } from '../../compiler/backend/schedule.ts';
import { stateSlot } from '../compiled/host.ts';

/**
 * How the cpu backend compiles its programs: with pass `sparseForms` (compact k-winners layers and
 * a background-skipping first layer where its cost model says they pay; the cpu generator
 * implements those primitives).
 */
export const cpuCompileOptions: Pick<CompileOptions, 'sparse'> = { sparse: {} };

/** Offsets are aligned to 16 floats. */
export const align = (n: number): number => (n + 15) & ~15;

/** A program's placement in memory. */
export interface ProgramLayout {
  /** The address (in floats) of every materialised value. */
  readonly address: (value: number) => number;
  /** The start of the scratch area. */
  readonly scratch: number;
  /** Copy-backs of updates computed out of place: [from, to, length]. */
  readonly copies: ReadonlyArray<readonly [number, number, number]>;
}

/** Places a schedule above `base`; `slot` gives the arena offset of a state tensor (`tensors:l0.weight`, `momentum:...`, `masks:...`). */
export const layoutProgram = (schedule: Schedule, base: number, slot: (key: string) => number | undefined): ProgramLayout => {
  const ir = schedule.ir;
  const plan = schedule.plan!;
  const hostFloats = plan.buffers.filter((b) => b.kind === 'host').reduce((a, b) => Math.max(a, b.offset + b.length), 0);
  const tempBase = align(base + hostFloats);
  const scratch = align(tempBase + plan.tempFloats);
  const address = (v: number): number => {
    const buf = plan.buffers[plan.bufferOf.get(v)!];
    if (buf.kind === 'state') {
      const s = stateSlot(ir.ops[buf.values[0]])!;
      const at = slot(`${s.map}:${s.name}`);
      if (at === undefined) throw new Error(`the program reads ${s.map} ${s.name}, which the model's state does not hold`);
      return at;
    }
    return (buf.kind === 'host' ? base : tempBase) + buf.offset;
  };
  const copies = (ir.updates ?? [])
    .filter((u) => !plan.inPlace.has(u.value))
    .map((u) => [address(u.value), address(u.source), floatsOf(ir, u.value, plan.batch)] as const);
  return { address, scratch, copies };
};
