/**
 * Where a compiled program's values live in the cpu backend's memory (shared by the in-process
 * `cpu` model and `winnow build`): state sources at their arena slots, then from `base` the
 * per-call inputs of the buffer plan, then its temporaries, then the scratch area of the matrix
 * products. Updates not computed in place are copied back to their source after the kernels.
 */
import type { CompileOptions } from '../../compiler/backend/compile.ts';
import { floatsOf } from '../../compiler/backend/passes/plan-buffers.ts';
import type { Schedule } from '../../compiler/backend/schedule.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { stateSlot } from '../compiled/host.ts';

/**
 * How the cpu backend compiles its programs: with pass `sparseForms` (compact k-winners layers and
 * a background-skipping first layer where its cost model says they pay; the cpu generator
 * implements those primitives).
 */
export const cpuCompileOptions: Pick<CompileOptions, 'sparse'> = { sparse: {} };

/** A dense layer's sparse weight whose per-unit index lists (a `maskIndex` source) the cpu backend keeps in its state area. */
export interface IndexList {
  /** The weight's (and its mask's) name, `l<layer>.weight`. */
  readonly name: string;
  readonly units: number;
  readonly fanIn: number;
  /** Inputs kept per unit. */
  readonly kept: number;
}

/** The index lists a model's programs may read: one per dense layer with sparse weights (`units x kept` int32 indices each, derived from the mask). */
export const indexListsOf = (lowered: Lowered): IndexList[] =>
  lowered.ir.ops
    .filter((o) => o.op === 'dense' && (o.attrs.keptPerUnit as number) < (o.attrs.fanIn as number))
    .map((o) => ({ name: `l${o.layer}.weight`, units: o.attrs.units as number, fanIn: o.attrs.fanIn as number, kept: o.attrs.keptPerUnit as number }));

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

/** Places a schedule above `base`; `slot` gives the arena offset of a state tensor (`tensors:l0.weight`, `momentum:...`, `masks:...`, `maskIndex:...`). */
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
