/**
 * The cpu backend's optimizer updates over large parameters as WebAssembly SIMD: a kernel whose
 * root is `sgdUpdate` (w' = (w - lr buf') x mask) on an unbatched value of at least `minFloats`
 * elements, with nothing fused after it, becomes one pass of f32x4 arithmetic over its elements
 * (split by elements across threads) instead of a JavaScript loop. Elements are computed in float32
 * (the JavaScript loop computes each in float64 and rounds once): results differ from it by float32
 * rounding, identically for any split.
 */
import type { Kernel } from '../../backend/schedule.ts';
import type { IR } from '../../ir.ts';
import { size } from '../../ops/prim/helpers.ts';
import { intLit as int } from '../expr.ts';
import type { AddressOf, Partition } from './program.ts';
import type { WasmFunctions } from './sparse.ts';

/** Smaller updates stay JavaScript (the call costs more than the loop). */
export const minFloats = 4096;

/** The kernel of `k` when it is a large sgdUpdate, else undefined. */
export const updateKernel = (ir: IR, k: Kernel, addr: AddressOf, wasm: WasmFunctions): { text: string; partition: Partition; scratchFloats: number } | undefined => {
  const op = ir.ops[k.ops[0]];
  if (op.op !== 'sgdUpdate' || k.ops.length > 1 || op.batched || size(op.shape!) < minFloats) return undefined;
  const n = size(op.shape!);
  const [w, buf, lr, mask] = op.inputs;
  const bytes = (v: number) => addr(v) * 4;
  const at = (v: number, q: string) => `(i32.add (i32.const ${bytes(v)}) ${q})`;
  const vec = (q: string) => {
    const next = `(f32x4.sub (v128.load ${at(w, q)}) (f32x4.mul (local.get $lr) (v128.load ${at(buf, q)})))`;
    return `(v128.store ${at(op.id, q)} ${mask !== undefined ? `(f32x4.mul ${next} (v128.load ${at(mask, q)}))` : next})`;
  };
  const one = (q: string) => {
    const next = `(f32.sub (f32.load ${at(w, q)}) (f32.mul (local.get $s) (f32.load ${at(buf, q)})))`;
    return `(f32.store ${at(op.id, q)} ${mask !== undefined ? `(f32.mul ${next} (f32.load ${at(mask, q)}))` : next})`;
  };
  // Elements [lo, hi): vectors while 4 remain, then scalars; q is a byte offset.
  const body = [
    `(local.set $s (f32.load (i32.const ${bytes(lr)})))`,
    '(local.set $lr (f32x4.splat (local.get $s)))',
    '(local.set $q (i32.shl (local.get $lo) (i32.const 2)))',
    '(local.set $end (i32.shl (local.get $hi) (i32.const 2)))',
    '(block $vx (loop $vl',
    '  (br_if $vx (i32.gt_u (i32.add (local.get $q) (i32.const 16)) (local.get $end)))',
    `  ${vec('(local.get $q)')}`,
    '  (local.set $q (i32.add (local.get $q) (i32.const 16)))',
    '  (br $vl)))',
    '(block $sx (loop $sl',
    '  (br_if $sx (i32.ge_u (local.get $q) (local.get $end)))',
    `  ${one('(local.get $q)')}`,
    '  (local.set $q (i32.add (local.get $q) (i32.const 4)))',
    '  (br $sl)))',
  ];
  const name = wasm.add('(param $lo i32) (param $hi i32)', ['(local $q i32)', '(local $end i32)', '(local $s f32)', '(local $lr v128)'], body);
  return {
    text: [`function ${k.name}(M, lo = 0, hi = ${int(n)}) {`, `  W.${name}(lo, hi);`, '}'].join('\n'),
    partition: { extent: n, grain: 16, work: n / 2 },
    scratchFloats: 0,
  };
};
