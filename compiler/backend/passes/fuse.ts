/**
 * Pass `fuse`: groups the program's compute ops into kernels. An elementwise op (bias, ReLU and
 * its gradient, dropout and DropConnect masks, k-winners' gradient, momentum) joins the kernel
 * that produces its main input when that value is read by nothing else and is not a result, so
 * the intermediate never reaches memory. Every other compute op starts a kernel.
 */
import type { IR } from '../../ir.ts';
import { isSource, opDef } from '../../ops/index.ts';
import type { Kernel, Schedule } from '../schedule.ts';

/** Ids a program returns or writes back (they must be materialised). */
export const externalValues = (ir: IR): Set<number> =>
  new Set([ir.output, ...Object.values(ir.results ?? {}), ...(ir.updates ?? []).map((u) => u.value)]);

/** The fusion pass. */
export const fuse = (ir: IR): Schedule => {
  const uses = new Array<number>(ir.ops.length).fill(0);
  for (const op of ir.ops) for (const i of op.inputs) uses[i]++;
  const external = externalValues(ir);
  const kernelOf = new Map<number, number>();
  const groups: number[][] = [];
  for (const op of ir.ops) {
    if (isSource(op.op)) continue;
    // kwtaGrad with breakTies counts equal keys across its group: it must start its own kernel.
    const ew = op.op === 'kwtaGrad' && op.attrs.breakTies ? undefined : opDef(op.op).elementwise;
    const main = ew ? op.inputs[ew.main] : undefined;
    const k = main !== undefined ? kernelOf.get(main) : undefined;
    const group = k !== undefined ? groups[k] : undefined;
    const fusable =
      group !== undefined && group[group.length - 1] === main && uses[main!] === 1 && !external.has(main!) &&
      ir.ops[main!].batched === op.batched && String(ir.ops[main!].shape) === String(op.shape);
    if (fusable) {
      group!.push(op.id);
      kernelOf.set(op.id, k!);
    } else {
      kernelOf.set(op.id, groups.length);
      groups.push([op.id]);
    }
  }
  const kernels: Kernel[] = groups.map((ops, index) => ({
    index,
    name: `k${index}_${ops.map((o) => ir.ops[o].op).join('_')}`.slice(0, 32).replace(/_$/, ''),
    ops,
    output: ops[ops.length - 1],
  }));
  return { ir, kernels };
};
