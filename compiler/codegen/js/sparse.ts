/**
 * The cpu backend's kernels for the sparse-form primitives (`compiler/ops/prim/sparse.ts`, chosen
 * by pass `sparseForms`): JavaScript for the selection and the scattered scalar work, WebAssembly
 * SIMD functions (`s0`, `s1`, ... in the program's module) for the products over rows and for
 * transposes. Like every kernel of the program, each takes a range `(M, lo, hi)` of its partition
 * axis (samples, or units for the reductions over the batch and the weight gradients) and computes
 * exactly the outputs of that range, every sum in a fixed order, so results do not depend on how
 * the cpu backend's threads split it. Scratch arrays live in the kernel's closure (one per thread).
 *
 * Sizes and addresses are baked in as numbers; nothing from a model file reaches the text.
 */
import type { Kernel, Schedule } from '../../backend/schedule.ts';
import type { IR, Op } from '../../ir.ts';
import { compactLayout } from '../../ops/prim/sparse.ts';
import { elementwiseExpr, intLit as int, lit } from '../expr.ts';
import { jsReader } from './reader.ts';
import { sparseWeightKernel, sparseWeightOps } from './sparse-weights.ts';
import type { AddressOf, Partition } from './program.ts';
import { i32, get, set, add, mul, forLoop } from './wat-text.ts';

/** The primitives whose kernels this module generates. */
export const sparseOps: ReadonlySet<string> = new Set(['kwtaCompact', 'compactInput', 'dutyCycleCompact', 'transpose', 'gather', 'linearGradXAt', 'linearGradWOuter', 'biasGradCompact']);

/** A generated kernel: its function text (with any closure scratch before it), how it splits, and the scratch floats it uses. */
export interface SparseKernelCode {
  readonly text: string;
  readonly partition: Partition | undefined;
  readonly scratchFloats: number;
}

/** Where the program collects WebAssembly functions: `add(body)` returns the export name (`s<i>`), which is also the function's `$s<i>` for calls. */
export interface WasmFunctions {
  readonly add: (params: string, locals: ReadonlyArray<string>, body: ReadonlyArray<string>) => string;
}

/** Statements applying a kernel's fused ops to `v` and storing it at output element `o`. */
const store = (ir: IR, k: Kernel, addr: AddressOf, batch: number): string[] => {
  const r = jsReader(ir, addr, batch, ir.ops[k.output].batched);
  return [...k.ops.slice(1).map((o) => `v = ${elementwiseExpr(ir.ops[o], 'v', r)};`), `M[${int(addr(k.output))} + o] = v;`];
};

/** The int32 view of the memory, for the index slots of compact values (JavaScript kernels that read or write them). */
const intView = 'const I = new Int32Array(M.buffer, M.byteOffset, M.length);';

const fn = (k: Kernel, extent: number, body: ReadonlyArray<string>, closure: ReadonlyArray<string> = []): string =>
  [...closure, `function ${k.name}(M, lo = 0, hi = ${int(extent)}) {`, ...body.map((l) => `  ${l}`), '}'].join('\n');

/**
 * An `sgdUpdate` kernel whose work a `linearGradWOuter` + `momentum` kernel does row by row, right
 * after the momentum (w' = (w - lr buf') x mask while the row is in cache): the sgdUpdate reads that
 * kernel's output and updates w in place, and no kernel between the two reads w. Keys: the
 * sgdUpdate kernel's index; values: the gradient kernel's.
 */
const absorbedUpdates = (s: Schedule, addr: AddressOf): ReadonlyMap<number, number> => {
  const ir = s.ir;
  const out = new Map<number, number>();
  for (const k of s.kernels) {
    const root = ir.ops[k.ops[0]];
    const m = root.op === 'linearGradWOuter' ? fusedMomentum(k.ops.slice(1).map((o) => ir.ops[o])) : undefined;
    if (!m) continue;
    const w = m.momentum.inputs[2];
    const upd = s.kernels.find((u) => u.index > k.index && u.ops.length === 1 && ir.ops[u.ops[0]].op === 'sgdUpdate' && ir.ops[u.ops[0]].inputs[1] === k.output && ir.ops[u.ops[0]].inputs[0] === w);
    if (!upd || addr(upd.output) !== addr(w)) continue;
    const between = s.kernels.slice(k.index + 1, upd.index);
    if (between.some((b) => b.ops.some((o) => ir.ops[o].inputs.includes(w)))) continue;
    out.set(upd.index, k.index);
  }
  return out;
};

/**
 * The fused ops of a weight-gradient kernel when they are its momentum alone, or the momentum and
 * the mask of a sparse weight's buffer (`maskScale` by 1, pass `optimizer`), else undefined.
 */
export const fusedMomentum = (fused: ReadonlyArray<Op>): { readonly momentum: Op; readonly mask?: number } | undefined => {
  const [m, masked] = fused;
  if (m?.op !== 'momentum') return undefined;
  if (fused.length === 1) return { momentum: m };
  return fused.length === 2 && masked.op === 'maskScale' && masked.attrs.scale === 1 && masked.inputs[0] === m.id ? { momentum: m, mask: masked.inputs[1] } : undefined;
};

/** The kernel of `k` when its root is a sparse-form primitive (or an update another kernel does), else undefined. `scratch` is the program's scratch area. */
export const sparseKernel = (s: Schedule, k: Kernel, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode | undefined => {
  const ir = s.ir;
  const batch = s.plan!.batch;
  const root = ir.ops[k.ops[0]];
  if (root.op === 'sgdUpdate') {
    const by = absorbedUpdates(s, addr).get(k.index);
    if (by === undefined) return undefined;
    const text = [`function ${k.name}(M) {`, `  // done row by row by ${s.kernels[by].name}`, '}'].join('\n');
    return { text, partition: undefined, scratchFloats: 0 };
  }
  if (sparseWeightOps.has(root.op)) return sparseWeightKernel(ir, k, batch, addr, scratch, wasm);
  if (!sparseOps.has(root.op)) return undefined;
  if (k.ops.length > 1 && !['gather', 'biasGradCompact', 'linearGradWOuter', 'dutyCycleCompact'].includes(root.op)) {
    throw new Error(`codegen: ${root.op} cannot take fused ops`);
  }
  switch (root.op) {
    case 'kwtaCompact':
      return kwtaCompact(ir, k, root, batch, addr, scratch, wasm);
    case 'compactInput':
      return compactInputKernel(ir, k, root, batch, addr, wasm);
    case 'dutyCycleCompact':
    case 'biasGradCompact':
      return unitReduction(ir, k, root, batch, addr);
    case 'transpose':
      return transpose(k, root, addr, wasm);
    case 'gather':
      return gather(ir, k, root, batch, addr, scratch, wasm);
    case 'linearGradXAt':
      return gradXAt(ir, k, root, batch, addr, scratch, wasm);
    default: {
      const absorbed = [...absorbedUpdates(s, addr)].find(([, by]) => by === k.index);
      return gradWOuter(ir, k, root, batch, addr, scratch, wasm, absorbed ? s.kernels[absorbed[0]] : undefined);
    }
  }
};

/** Address of the sample-b record of compact value v (as JS text). */
const rec = (addr: AddressOf, v: number, stride: number, b = 'b'): string => `${int(addr(v))} + ${b} * ${int(stride)}`;

/**
 * kwtaCompact: the per-unit boost factors fround(exp(-strength x dutyCycle)) once per call (in
 * JavaScript, for Math.exp); then per sample, in WebAssembly, the keys x x factor in float32 (what
 * Math.fround gives) into the sample's value slots, the k-th largest key (a histogram of the keys
 * narrows it to one bucket, quickselect finishes; the index slots are work space), and the
 * winners in index order (each value slot is overwritten only after its key was read). A NaN key
 * makes JavaScript find the threshold by sorting, as the dense kernel does. Same keys, threshold,
 * tie and relu rules as kwtaThreshold + kwtaApply.
 */
const kwtaCompact = (_ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const a = op.attrs as Record<string, number>;
  const n = a.members;
  const kk = a.k;
  const hw = a.hw;
  const L = compactLayout(a.cap);
  const [x, dc, s] = op.inputs;
  const name = k.name;
  const at = (base: string, slot: number, j: string) => `(f32.load offset=${slot * 4} ${add(base, mul(j, i32(4)))})`;
  // quick(pa, len, kth) -> the kth smallest of the floats at pa[0..len) (Hoare partitions around a median of three; no NaN).
  const el = (i: string) => `(f32.load ${add(get('pa'), `(i32.shl ${i} (i32.const 2))`)})`;
  const put = (i: string, v: string) => `(f32.store ${add(get('pa'), `(i32.shl ${i} (i32.const 2))`)} ${v})`;
  const quick = wasm.add('(param $pa i32) (param $len i32) (param $kth i32) (result f32)', ['l', 'r', 'm', 'i', 'j'].map((v) => `(local $${v} i32)`).concat(['p0', 'p1', 'p2', 'x', 't'].map((v) => `(local $${v} f32)`)), [
    set('l', i32(0)),
    set('r', '(i32.sub (local.get $len) (i32.const 1))'),
    '(block $done (loop $outer',
    '  (br_if $done (i32.le_s (local.get $r) (local.get $l)))',
    `  ${set('m', '(i32.shr_s (i32.add (local.get $l) (local.get $r)) (i32.const 1))')}`,
    `  ${set('p0', el(get('l')))} ${set('p1', el(get('m')))} ${set('p2', el(get('r')))}`,
    '  (if (f32.lt (local.get $p0) (local.get $p1))',
    '    (then (local.set $x (select (local.get $p1) (select (local.get $p2) (local.get $p0) (f32.lt (local.get $p0) (local.get $p2))) (f32.lt (local.get $p1) (local.get $p2)))))',
    '    (else (local.set $x (select (local.get $p0) (select (local.get $p2) (local.get $p1) (f32.lt (local.get $p1) (local.get $p2))) (f32.lt (local.get $p0) (local.get $p2))))))',
    '  (local.set $i (local.get $l)) (local.set $j (local.get $r))',
    '  (block $px (loop $pl',
    '    (br_if $px (i32.gt_s (local.get $i) (local.get $j)))',
    `    (block $ax (loop $al (br_if $ax (i32.eqz (f32.lt ${el(get('i'))} (local.get $x)))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $al)))`,
    `    (block $bx (loop $bl (br_if $bx (i32.eqz (f32.gt ${el(get('j'))} (local.get $x)))) (local.set $j (i32.sub (local.get $j) (i32.const 1))) (br $bl)))`,
    '    (if (i32.le_s (local.get $i) (local.get $j)) (then',
    `      ${set('t', el(get('i')))} ${put(get('i'), el(get('j')))} ${put(get('j'), get('t'))}`,
    '      (local.set $i (i32.add (local.get $i) (i32.const 1))) (local.set $j (i32.sub (local.get $j) (i32.const 1)))))',
    '    (br $pl)))',
    '  (if (i32.le_s (local.get $kth) (local.get $j)) (then (local.set $r (local.get $j)) (br $outer)))',
    '  (if (i32.ge_s (local.get $kth) (local.get $i)) (then (local.set $l (local.get $i)) (br $outer)))',
    '  (br $done)))',
    el(get('kth')),
  ]);
  // select(rec, x, f) -> the k-th largest key, or NaN when a key is NaN. It first writes the keys, x x f in
  // float32 (what Math.fround(x * f) gives), into the value slots (the index slots are then work space).
  const keyAt = (j: string) => at(get('pr'), L.value, j);
  const idxB = `(i32.add ${get('pr')} ${i32(L.index * 4)})`;
  const n4 = n - (n % 4);
  const keys = [
    set('nan', '(v128.const i32x4 0 0 0 0)'),
    ...forLoop('j', i32(0), i32(n4 * 4), 16, [
      set('v', `(f32x4.mul (v128.load ${add(get('px'), get('j'))}) (v128.load ${add(get('pf'), get('j'))}))`),
      `(v128.store offset=${L.value * 4} ${add(get('pr'), get('j'))} ${get('v')})`,
      set('nan', `(v128.or ${get('nan')} (f32x4.ne ${get('v')} ${get('v')}))`),
    ], 'k4'),
    ...forLoop('j', i32(n4 * 4), i32(n * 4), 4, [
      set('x', `(f32.mul (f32.load ${add(get('px'), get('j'))}) (f32.load ${add(get('pf'), get('j'))}))`),
      `(f32.store offset=${L.value * 4} ${add(get('pr'), get('j'))} ${get('x')})`,
      set('nan', `(v128.or ${get('nan')} (f32x4.ne (f32x4.splat ${get('x')}) (f32x4.splat ${get('x')})))`),
    ], 'k1'),
    `(if (v128.any_true ${get('nan')}) (then (return (f32.const nan))))`,
  ];
  const copyAll = forLoop('j', i32(0), i32(n), 1, [`(f32.store offset=${L.index * 4} ${add(get('pr'), mul(get('j'), i32(4)))} ${keyAt(get('j'))})`], 'c');
  const full = [...copyAll, `(return (call $${quick} ${idxB} ${i32(n)} ${i32(n - kk)}))`];
  // With many members: a histogram of the keys in 256 equal buckets over [min, max] (a bucket index monotonic in
  // the key, computed 4 keys at a time) finds the bucket holding the k-th largest; only that bucket's keys go to
  // quickselect. Counts are in index slots 0..255, the bucket's keys after them; a bucket too large for the room
  // left (or infinite keys) falls back to quickselect over all keys.
  const buckets = 256;
  const room = L.value - L.index - buckets - 4;
  const bucketsOf = (v: string) => `(i32x4.min_s (i32x4.trunc_sat_f32x4_s (f32x4.mul (f32x4.sub ${v} ${get('vlo')}) ${get('vsc')})) ${get('vtop')})`;
  const count = (b: string) => `(i32.load offset=${L.index * 4} ${add(get('pr'), `(i32.shl ${b} (i32.const 2))`)})`;
  const bump = (b: string) => `(i32.store offset=${L.index * 4} ${add(get('pr'), `(i32.shl ${b} (i32.const 2))`)} (i32.add ${count(b)} (i32.const 1)))`;
  const lane = (l: number) => `(i32x4.extract_lane ${l} ${get('vb')})`;
  const histogram = n >= 512 && n % 4 === 0 && room > 0
    ? [
        set('vlo', `(v128.load offset=${L.value * 4} ${get('pr')})`),
        set('vhi', get('vlo')),
        ...forLoop('j', i32(16), i32(n * 4), 16, [set('v', `(v128.load offset=${L.value * 4} ${add(get('pr'), get('j'))})`), set('vlo', `(f32x4.min ${get('vlo')} ${get('v')})`), set('vhi', `(f32x4.max ${get('vhi')} ${get('v')})`)], 'mm'),
        set('lo', `(f32.min (f32.min (f32x4.extract_lane 0 ${get('vlo')}) (f32x4.extract_lane 1 ${get('vlo')})) (f32.min (f32x4.extract_lane 2 ${get('vlo')}) (f32x4.extract_lane 3 ${get('vlo')})))`),
        set('hi', `(f32.max (f32.max (f32x4.extract_lane 0 ${get('vhi')}) (f32x4.extract_lane 1 ${get('vhi')})) (f32.max (f32x4.extract_lane 2 ${get('vhi')}) (f32x4.extract_lane 3 ${get('vhi')})))`),
        `(if (f32.eq ${get('lo')} ${get('hi')}) (then (return ${get('hi')})))`,
        set('sc', `(f32.div (f32.const ${buckets}) (f32.sub ${get('hi')} ${get('lo')}))`),
        `(if (i32.eqz (f32.lt ${get('sc')} (f32.const inf))) (then ${full.join(' ')}))`,
        `(if (f32.eq ${get('sc')} (f32.const 0)) (then ${full.join(' ')}))`,
        set('vlo', `(f32x4.splat ${get('lo')})`),
        set('vsc', `(f32x4.splat ${get('sc')})`),
        set('vtop', `(i32x4.splat ${i32(buckets - 1)})`),
        ...forLoop('j', i32(0), i32(buckets * 4), 16, [`(v128.store offset=${L.index * 4} ${add(get('pr'), get('j'))} (v128.const i32x4 0 0 0 0))`], 'z'),
        ...forLoop('j', i32(0), i32(n * 4), 16, [
          set('vb', bucketsOf(`(v128.load offset=${L.value * 4} ${add(get('pr'), get('j'))})`)),
          bump(lane(0)), bump(lane(1)), bump(lane(2)), bump(lane(3)),
        ], 'h'),
        set('above', i32(0)),
        set('b', i32(buckets - 1)),
        '(block $fx (loop $fl',
        `  ${set('c', count(get('b')))}`,
        `  (br_if $fx (i32.ge_u (i32.add ${get('above')} ${get('c')}) ${i32(kk)}))`,
        `  ${set('above', add(get('above'), get('c')))}`,
        `  ${set('b', '(i32.sub (local.get $b) (i32.const 1))')}`,
        '  (br $fl)))',
        `(if (i32.gt_u ${get('c')} ${i32(room)}) (then ${full.join(' ')}))`,
        set('vt', `(i32x4.splat ${get('b')})`),
        set('m', i32(0)),
        // 4 keys at a time: any in the bucket? (rarely): then one by one, in index order.
        ...forLoop('j', i32(0), i32(n * 4), 16, [
          set('v', `(v128.load offset=${L.value * 4} ${add(get('pr'), get('j'))})`),
          set('vb', `(i32x4.eq ${bucketsOf(get('v'))} ${get('vt')})`),
          `(if (v128.any_true ${get('vb')}) (then`,
          ...[0, 1, 2, 3].flatMap((l) => [
            `(f32.store offset=${(L.index + buckets) * 4} ${add(get('pr'), `(i32.shl ${get('m')} (i32.const 2))`)} (f32x4.extract_lane ${l} ${get('v')}))`,
            set('m', add(get('m'), `(i32.and ${lane(l)} (i32.const 1))`)),
          ]),
          '))',
        ], 'g'),
        `(call $${quick} ${add(idxB, i32(buckets * 4))} ${get('c')} (i32.sub ${get('c')} (i32.sub ${i32(kk)} ${get('above')})))`,
      ]
    : full.slice(0, -1).concat([`(call $${quick} ${idxB} ${i32(n)} ${i32(n - kk)})`]);
  const select = wasm.add('(param $pr i32) (param $px i32) (param $pf i32) (result f32)', ['j', 'b', 'c', 'm', 'above'].map((v) => `(local $${v} i32)`).concat(['lo', 'hi', 'sc', 'x'].map((v) => `(local $${v} f32)`), ['vlo', 'vhi', 'v', 'vb', 'vsc', 'vtop', 'vt', 'nan'].map((v) => `(local $${v} v128)`)), [...keys, ...histogram]);
  // list(rec, x, t): the winners' indices and values, the count; keys are in the value slots.
  const xj = `(f32.load ${add(get('px'), mul(get('j'), i32(4)))})`;
  const key = at(get('pr'), L.value, get('j'));
  const wins = op.attrs.breakTies
    ? [
        set('w', `(f32.gt ${get('key')} ${get('t')})`),
        `(if (i32.and (i32.eqz ${get('w')}) (f32.eq ${get('key')} ${get('t')})) (then ${set('w', `(i32.lt_s (i32.add ${get('above')} ${get('before')}) ${i32(kk)})`)} ${set('before', add(get('before'), i32(1)))}))`,
        ...(op.attrs.relu ? [`(if (i32.eqz (f32.gt ${xj} (f32.const 0))) (then ${set('w', i32(0))}))`] : []),
      ]
    : [set('w', op.attrs.relu ? `(i32.and (f32.ge ${get('key')} ${get('t')}) (f32.gt ${xj} (f32.const 0)))` : `(f32.ge ${get('key')} ${get('t')})`)];
  const list = wasm.add('(param $pr i32) (param $px i32) (param $t f32)', ['j', 'c', 'w', 'above', 'before'].map((v) => `(local $${v} i32)`).concat(['(local $key f32)']), [
    ...(op.attrs.breakTies ? forLoop('j', i32(0), i32(n), 1, [`(if (f32.gt ${key} ${get('t')}) (then ${set('above', add(get('above'), i32(1)))}))`], 'a') : []),
    ...forLoop('j', i32(0), i32(n), 1, [
      set('key', key),
      ...wins,
      // Written whether it wins or not (no branch); slot c <= j, so no key still to be read is overwritten.
      `(i32.store offset=${L.index * 4} ${add(get('pr'), mul(get('c'), i32(4)))} ${get('j')})`,
      `(f32.store offset=${L.value * 4} ${add(get('pr'), mul(get('c'), i32(4)))} ${xj})`,
      set('c', add(get('c'), get('w'))),
    ], 'l'),
    `(f32.store ${get('pr')} (f32.convert_i32_u ${get('c')}))`,
    `(f32.store offset=4 ${get('pr')} (f32.const 0))`,
  ]);
  const closure = [`const ${name}_f = new Float32Array(${int(n)}), ${name}_work = new Float32Array(${int(n)});`];
  // The per-unit boost factors (Math.exp: JavaScript), then into the scratch slot of the range's first sample for WebAssembly.
  const body = [
    `const f = ${name}_f, F = ${int(scratch)} + lo * ${int(n)};`,
    `const s = M[${int(addr(s))}];`,
    `for (let j = 0; j < ${int(n)}; j++) f[j] = Math.exp(0.0 - s * M[${int(addr(dc))} + ${hw === 1 ? 'j' : `Math.floor(j / ${int(hw)})`}]);`,
    'M.set(f, F);',
    'for (let b = lo; b < hi; b++) {',
    `  const xb = ${int(addr(x))} + b * ${int(n)}, out = ${rec(addr, op.id, L.stride)};`,
    `  let t = W.${select}(out * 4, xb * 4, F * 4);`,
    `  if (t !== t) { const work = ${name}_work, keys = out + ${int(L.value)}; work.set(M.subarray(keys, keys + ${int(n)})); work.sort(); t = work[${int(n - kk)}]; }`,
    `  W.${list}(out * 4, xb * 4, t);`,
    '}',
  ];
  // Each chunk computes the boost factors again (n Math.exp calls): chunks of a quarter of the batch at least.
  return { text: fn(k, batch, body, closure), partition: { extent: batch, grain: Math.max(1, Math.ceil(batch / 4)), work: batch * n * 12 }, scratchFloats: batch * n };
};

/**
 * compactInput (WebAssembly): per sample, the elements that differ from its first (f32.ne, as
 * JavaScript's !==), minus it (rounded to float32), 4 elements at a time: a vector with none skips
 * at once, else its 4 lanes are written at the list's end and the count advances by those that differ.
 */
const compactInputKernel = (_ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, wasm: WasmFunctions): SparseKernelCode => {
  const F = op.attrs.cap as number;
  const L = compactLayout(F);
  const Xb = addr(op.inputs[0]) * 4;
  const Ob = addr(op.id) * 4;
  const F4 = F - (F % 4);
  const one = (l: number, value: string, differs: string) => [
    `(i32.store offset=${L.index * 4} ${add(get('po'), `(i32.shl ${get('c')} (i32.const 2))`)} ${add(get('p'), i32(l))})`,
    `(f32.store offset=${L.value * 4} ${add(get('po'), `(i32.shl ${get('c')} (i32.const 2))`)} (f32.sub ${value} ${get('x0')}))`,
    set('c', add(get('c'), differs)),
  ];
  const body = forLoop('b', get('lo'), get('hi'), 1, [
    set('px', add(i32(Xb), mul(get('b'), i32(F * 4)))),
    set('po', add(i32(Ob), mul(get('b'), i32(L.stride * 4)))),
    set('x0', `(f32.load ${get('px')})`),
    set('vc', `(f32x4.splat ${get('x0')})`),
    set('c', i32(0)),
    ...forLoop('p', i32(0), i32(F4), 4, [
      set('v', `(v128.load ${add(get('px'), `(i32.shl ${get('p')} (i32.const 2))`)})`),
      set('m', `(f32x4.ne ${get('v')} ${get('vc')})`),
      `(if (v128.any_true ${get('m')}) (then`,
      ...[0, 1, 2, 3].flatMap((l) => one(l, `(f32x4.extract_lane ${l} ${get('v')})`, `(i32.and (i32x4.extract_lane ${l} ${get('m')}) (i32.const 1))`)),
      '))',
    ], 'v'),
    ...forLoop('p', i32(F4), i32(F), 1, [
      set('x', `(f32.load ${add(get('px'), `(i32.shl ${get('p')} (i32.const 2))`)})`),
      ...one(0, get('x'), `(f32.ne ${get('x')} ${get('x0')})`),
    ], 's'),
    `(f32.store ${get('po')} (f32.convert_i32_u ${get('c')}))`,
    `(f32.store offset=4 ${get('po')} ${get('x0')})`,
  ], 'b');
  const locals = ['b', 'px', 'po', 'p', 'c'].map((v) => `(local $${v} i32)`).concat(['(local $x0 f32)', '(local $x f32)', '(local $vc v128)', '(local $v v128)', '(local $m v128)']);
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  return { text: fn(k, batch, [`W.${name}(lo, hi);`]), partition: { extent: batch, grain: 1, work: (batch * F) / 8 }, scratchFloats: 0 };
};

/**
 * dutyCycleCompact and biasGradCompact: reductions over the batch, split by unit: each thread
 * scans every sample's list and keeps its own units (counts of winners above 0; sums of the
 * gradient in sample order, as the dense kernels sum), then finishes its units.
 */
const unitReduction = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf): SparseKernelCode => {
  const a = op.attrs as Record<string, number>;
  const units = a.units;
  const hw = a.hw;
  const L = compactLayout(a.cap);
  const c = op.inputs[0];
  const name = k.name;
  const unit = hw === 1 ? `I[cb + ${int(L.index)} + t]` : `Math.floor(I[cb + ${int(L.index)} + t] / ${int(hw)})`;
  const duty = op.op === 'dutyCycleCompact';
  const body = [
    intView,
    `const acc = ${name}_acc;`,
    'acc.fill(0, lo, hi);',
    `for (let b = 0; b < ${int(batch)}; b++) {`,
    `  const cb = ${rec(addr, c, L.stride)}, count = M[cb];`,
    '  for (let t = 0; t < count; t++) {',
    `    const u = ${unit};`,
    duty ? `    if (u >= lo && u < hi && M[cb + ${int(L.value)} + t] > 0) acc[u]++;` : `    if (u >= lo && u < hi) acc[u] += M[cb + ${int(L.value)} + t];`,
    '  }',
    '}',
    ...(duty ? [`const period = Math.min(${int(a.period)}, M[${int(addr(op.inputs[2]))}]);`] : []),
    'for (let o = lo; o < hi; o++) {',
    duty ? `  let v = (M[${int(addr(op.inputs[1]))} + o] * (period - ${int(batch)}) + acc[o] / ${lit(hw)}) / period;` : '  let v = acc[o];',
    ...store(ir, k, addr, batch).map((l) => `  ${l}`),
    '}',
  ];
  return { text: fn(k, units, body, [`const ${name}_acc = new Float64Array(${int(units)});`]), partition: { extent: units, grain: 16, work: batch * a.cap / 4 + units }, scratchFloats: 0 };
};

// ---- WebAssembly helpers ----
/** Float lanes (4 bytes each) of a two-vector shuffle, as i8x16.shuffle's byte lanes. */
const lanes = (...fl: number[]) => fl.flatMap((f) => [4 * f, 4 * f + 1, 4 * f + 2, 4 * f + 3]).join(' ');

/**
 * transpose: W^T by 4 x 4 blocks (SIMD loads, shuffles, stores), rows of W split across threads;
 * with `sums`, the extra row holds each row's sum of W, added in column order.
 */
const transpose = (k: Kernel, op: Op, addr: AddressOf, wasm: WasmFunctions): SparseKernelCode => {
  const { rows: U, cols: F } = op.attrs as { rows: number; cols: number };
  const sums = op.attrs.sums as boolean;
  const Wb = addr(op.inputs[0]) * 4;
  const Tb = addr(op.id) * 4;
  const F4 = F - (F % 4);
  const rowB = F * 4;
  const colB = U * 4;
  // Block of 4 rows (u..u+3): c_q = [W[u][p+q], W[u+1][p+q], W[u+2][p+q], W[u+3][p+q]].
  const block = [
    set('pw', add(i32(Wb), add(mul(get('u'), i32(rowB)), mul(get('p'), i32(4))))),
    ...[0, 1, 2, 3].map((r) => set(`r${r}`, `(v128.load offset=${r * rowB} ${get('pw')})`)),
    set('a', `(i8x16.shuffle ${lanes(0, 4, 1, 5)} ${get('r0')} ${get('r1')})`),
    set('b', `(i8x16.shuffle ${lanes(0, 4, 1, 5)} ${get('r2')} ${get('r3')})`),
    set('c', `(i8x16.shuffle ${lanes(2, 6, 3, 7)} ${get('r0')} ${get('r1')})`),
    set('d', `(i8x16.shuffle ${lanes(2, 6, 3, 7)} ${get('r2')} ${get('r3')})`),
    set('pt', add(i32(Tb), add(mul(get('p'), i32(colB)), mul(get('u'), i32(4))))),
    ...[
      `(i8x16.shuffle ${lanes(0, 1, 4, 5)} ${get('a')} ${get('b')})`,
      `(i8x16.shuffle ${lanes(2, 3, 6, 7)} ${get('a')} ${get('b')})`,
      `(i8x16.shuffle ${lanes(0, 1, 4, 5)} ${get('c')} ${get('d')})`,
      `(i8x16.shuffle ${lanes(2, 3, 6, 7)} ${get('c')} ${get('d')})`,
    ].flatMap((e, q) => [set('cq', e), `(v128.store offset=${q * colB} ${get('pt')} ${get('cq')})`, ...(sums ? [set('acc', `(f32x4.add ${get('acc')} ${get('cq')})`)] : [])]),
  ];
  // The columns past the last multiple of 4, for the same 4 rows.
  const blockTail = [
    set('pw', add(i32(Wb), add(mul(get('u'), i32(rowB)), mul(get('p'), i32(4))))),
    set('cq', `(f32x4.splat (f32.load ${get('pw')}))`),
    ...[1, 2, 3].map((r) => set('cq', `(f32x4.replace_lane ${r} ${get('cq')} (f32.load offset=${r * rowB} ${get('pw')}))`)),
    `(v128.store ${add(i32(Tb), add(mul(get('p'), i32(colB)), mul(get('u'), i32(4))))} ${get('cq')})`,
    ...(sums ? [set('acc', `(f32x4.add ${get('acc')} ${get('cq')})`)] : []),
  ];
  const single = [
    set('pw', add(i32(Wb), add(mul(get('u'), i32(rowB)), mul(get('p'), i32(4))))),
    set('x', `(f32.load ${get('pw')})`),
    `(f32.store ${add(i32(Tb), add(mul(get('p'), i32(colB)), mul(get('u'), i32(4))))} ${get('x')})`,
    ...(sums ? [set('s', `(f32.add ${get('s')} ${get('x')})`)] : []),
  ];
  const sumsAt = Tb + F * colB;
  const body = [
    set('u4', add(get('lo'), `(i32.and (i32.sub ${get('hi')} ${get('lo')}) ${i32(0xfffffffc)})`)),
    ...forLoop('u', get('lo'), get('u4'), 4, [
      set('acc', '(v128.const i32x4 0 0 0 0)'),
      ...forLoop('p', i32(0), i32(F4), 4, block, 'bp'),
      ...forLoop('p', i32(F4), i32(F), 1, blockTail, 'tp'),
      ...(sums ? [`(v128.store ${add(i32(sumsAt), mul(get('u'), i32(4)))} ${get('acc')})`] : []),
    ], 'bu'),
    ...forLoop('u', get('u4'), get('hi'), 1, [
      set('s', '(f32.const 0)'),
      ...forLoop('p', i32(0), i32(F), 1, single, 'sp'),
      ...(sums ? [`(f32.store ${add(i32(sumsAt), mul(get('u'), i32(4)))} ${get('s')})`] : []),
    ], 'su'),
  ];
  const name = wasm.add('(param $lo i32) (param $hi i32)', ['u4', 'u', 'p', 'pw', 'pt'].map((v) => `(local $${v} i32)`).concat(['r0', 'r1', 'r2', 'r3', 'a', 'b', 'c', 'd', 'cq', 'acc'].map((v) => `(local $${v} v128)`), ['(local $x f32)', '(local $s f32)']), body);
  return { text: fn(k, U, [`W.${name}(lo, hi);`]), partition: { extent: U, grain: 4, work: U * F }, scratchFloats: 0 };
};

/**
 * gather: per sample, y = base x sums (or 0), then for each listed row, 4 at a time,
 * y = (((y + v0 r0) + v1 r1) + v2 r2) + v3 r3 over the columns (2 vectors per step, then 1, then
 * scalars), each element summed in list order. Into the output, or into the scratch area when ops
 * are fused after it (then applied in JavaScript as they are copied out).
 */
const gather = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const { rows, cols, cap } = op.attrs as { rows: number; cols: number; cap: number };
  const base = op.attrs.base as boolean;
  const L = compactLayout(cap);
  const c8 = cols - (cols % 8);
  const c4 = cols - (cols % 4);
  // Fused bias (one per column) and ReLU are applied in WebAssembly to each finished row (y + b, then
  // 0 < y ? y : 0, as the JavaScript expressions do); other fused ops in JavaScript, from the scratch area.
  const fusedOps = k.ops.slice(1).map((o) => ir.ops[o]);
  const inWasm = fusedOps.every((f) => f.op === 'relu' || (f.op === 'biasAdd' && f.attrs.hw === 1 && !ir.ops[f.inputs[1]].batched));
  const fused = !inWasm;
  const target = fused ? scratch : addr(k.output);
  const rowOps = inWasm
    ? fusedOps.map((f) => (f.op === 'relu' ? (v: string) => `(f32x4.pmax (v128.const i32x4 0 0 0 0) ${v})` : (v: string, q: string) => `(f32x4.add ${v} (v128.load ${add(i32(addr(f.inputs[1]) * 4), q)}))`))
    : [];
  const rowOpsScalar = inWasm
    ? fusedOps.map((f) => (f.op === 'relu' ? (v: string) => `(select ${v} (f32.const 0) (f32.lt (f32.const 0) ${v}))` : (v: string, q: string) => `(f32.add ${v} (f32.load ${add(i32(addr(f.inputs[1]) * 4), q)}))`))
    : [];
  const finishRow = rowOps.length
    ? [
        ...forLoop('q', i32(0), i32(c4 * 4), 16, [`(v128.store ${add(get('py'), get('q'))} ${rowOps.reduce((v, f) => f(v, get('q')), `(v128.load ${add(get('py'), get('q'))})`)})`], 'f4'),
        ...forLoop('q', i32(c4 * 4), i32(cols * 4), 4, [`(f32.store ${add(get('py'), get('q'))} ${rowOpsScalar.reduce((v, f) => f(v, get('q')), `(f32.load ${add(get('py'), get('q'))})`)})`], 'f1'),
      ]
    : [];
  const Cb = addr(op.inputs[0]) * 4;
  const Rb = addr(op.inputs[1]) * 4;
  const colB = cols * 4;
  /** y[col..] (+)= terms of rows r0..r{R-1} at vector (V = 4 lanes) or scalar width, `offset` bytes into the row. */
  const step = (R: number, vec: boolean, offset: number): string => {
    const ld = vec ? 'v128.load' : 'f32.load';
    const addOp = vec ? 'f32x4.add' : 'f32.add';
    const mulOp = vec ? 'f32x4.mul' : 'f32.mul';
    let e = `(${ld} offset=${offset} ${add(get('py'), get('q'))})`;
    for (let r = 0; r < R; r++) e = `(${addOp} ${e} (${mulOp} ${get(vec ? `v${r}` : `f${r}`)} (${ld} offset=${offset} ${add(get(`r${r}`), get('q'))})))`;
    return `(${vec ? 'v128.store' : 'f32.store'} offset=${offset} ${add(get('py'), get('q'))} ${e})`;
  };
  const pass = (R: number, tag: string): string[] => [
    ...Array.from({ length: R }, (_, r) => [
      set(`r${r}`, add(i32(Rb), mul(`(i32.load offset=${(L.index + r) * 4} ${add(get('pc'), mul(get('j'), i32(4)))})`, i32(colB)))),
      set(`f${r}`, `(f32.load offset=${(L.value + r) * 4} ${add(get('pc'), mul(get('j'), i32(4)))})`),
      set(`v${r}`, `(f32x4.splat ${get(`f${r}`)})`),
    ]).flat(),
    ...forLoop('q', i32(0), i32(c8 * 4), 32, [step(R, true, 0), step(R, true, 16)], `${tag}8`),
    ...forLoop('q', i32(c8 * 4), i32(c4 * 4), 16, [step(R, true, 0)], `${tag}4`),
    ...forLoop('q', i32(c4 * 4), i32(cols * 4), 4, [step(R, false, 0)], `${tag}1`),
  ];
  const sumsB = Rb + rows * colB;
  const init = base
    ? [
        set('f0', `(f32.load offset=4 ${get('pc')})`),
        set('v0', `(f32x4.splat ${get('f0')})`),
        ...forLoop('q', i32(0), i32(c4 * 4), 16, [`(v128.store ${add(get('py'), get('q'))} (f32x4.mul ${get('v0')} (v128.load offset=${sumsB} ${get('q')})))`], 'i4'),
        ...forLoop('q', i32(c4 * 4), i32(cols * 4), 4, [`(f32.store ${add(get('py'), get('q'))} (f32.mul ${get('f0')} (f32.load offset=${sumsB} ${get('q')})))`], 'i1'),
      ]
    : [
        ...forLoop('q', i32(0), i32(c4 * 4), 16, [`(v128.store ${add(get('py'), get('q'))} (v128.const i32x4 0 0 0 0))`], 'i4'),
        ...forLoop('q', i32(c4 * 4), i32(cols * 4), 4, [`(f32.store ${add(get('py'), get('q'))} (f32.const 0))`], 'i1'),
      ];
  const body = forLoop('b', get('lo'), get('hi'), 1, [
    set('pc', add(i32(Cb), mul(get('b'), i32(L.stride * 4)))),
    set('py', add(i32(target * 4), mul(get('b'), i32(colB)))),
    set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pc)))'),
    set('n4', `(i32.and ${get('n')} ${i32(0xfffffffc)})`),
    ...init,
    ...forLoop('j', i32(0), get('n4'), 4, pass(4, 'g'), 'gj'),
    ...forLoop('j', get('n4'), get('n'), 1, pass(1, 'h'), 'hj'),
    ...finishRow,
  ], 'b');
  const locals = ['b', 'pc', 'py', 'n', 'n4', 'j', 'q', 'r0', 'r1', 'r2', 'r3'].map((v) => `(local $${v} i32)`)
    .concat([0, 1, 2, 3].map((r) => `(local $f${r} f32) (local $v${r} v128)`));
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  const copy = fused
    ? ['for (let b = lo; b < hi; b++) {', `  for (let e = 0; e < ${int(cols)}; e++) {`, `    const o = b * ${int(cols)} + e;`, `    let v = M[${int(scratch)} + o];`, ...store(ir, k, addr, batch).map((l) => `    ${l}`), '  }', '}']
    : [];
  return {
    text: fn(k, batch, [`W.${name}(lo, hi);`, ...copy]),
    partition: { extent: batch, grain: 1, work: batch * Math.min(cap, 128) * cols / 4 },
    scratchFloats: fused ? batch * cols : 0,
  };
};

/**
 * linearGradXAt (WebAssembly): per sample, the listed elements of g W, computed row by row of W so
 * that each row is read once per call while it is in cache: first, for each sample of the range,
 * its output takes `at`'s list with zero values, the list's byte offsets go to the sample's scratch
 * slot, and a compact g is expanded there into a dense row (zeros elsewhere); then for each unit u
 * of W in order and each sample whose g is not zero at u, value_j += g x W[u][index_j] for the
 * sample's list, in float32. Each value sums its terms in unit order whatever the split.
 */
const gradXAt = (_ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions): SparseKernelCode => {
  const { units, fanIn, cap, gCap } = op.attrs as Record<string, number>;
  const L = compactLayout(cap);
  const G = compactLayout(gCap || 1);
  const [g, w, at] = op.inputs;
  const Ab = addr(at) * 4;
  const Ob = addr(op.id) * 4;
  const slot = cap + (gCap > 0 ? units : 0); // floats per sample in the scratch area: offsets, then the expanded g
  const Sb = scratch * 4;
  const Wb = addr(w) * 4;
  const Gb = addr(g) * 4;
  const rowB = fanIn * 4;
  const mac = (j: number) => `(f32.store offset=${(L.value + j) * 4} ${get('pv')} (f32.add (f32.load offset=${(L.value + j) * 4} ${get('pv')}) (f32.mul ${get('gv')} (f32.load ${add(get('row'), `(i32.load offset=${j * 4} ${get('ps')})`)}))))`;
  const prepare = forLoop('b', get('lo'), get('hi'), 1, [
    set('pa', add(i32(Ab), mul(get('b'), i32(L.stride * 4)))),
    set('po', add(i32(Ob), mul(get('b'), i32(L.stride * 4)))),
    set('sb', add(i32(Sb), mul(get('b'), i32(slot * 4)))),
    set('n', '(i32.trunc_sat_f32_u (f32.load (local.get $pa)))'),
    `(f32.store ${get('po')} (f32.load ${get('pa')}))`,
    `(f32.store offset=4 ${get('po')} (f32.const 0))`,
    ...forLoop('j', i32(0), get('n'), 1, [
      set('i', `(i32.load offset=${L.index * 4} ${add(get('pa'), mul(get('j'), i32(4)))})`),
      `(i32.store offset=${L.index * 4} ${add(get('po'), mul(get('j'), i32(4)))} ${get('i')})`,
      `(f32.store offset=${L.value * 4} ${add(get('po'), mul(get('j'), i32(4)))} (f32.const 0))`,
      `(i32.store ${add(get('sb'), mul(get('j'), i32(4)))} (i32.shl ${get('i')} (i32.const 2)))`,
    ], 'c'),
    ...(gCap > 0
      ? [
          set('pg', add(i32(Gb), mul(get('b'), i32(G.stride * 4)))),
          ...forLoop('t', i32(0), i32(units), 1, [`(f32.store offset=${cap * 4} ${add(get('sb'), mul(get('t'), i32(4)))} (f32.const 0))`], 'z'),
          set('gn', '(i32.trunc_sat_f32_u (f32.load (local.get $pg)))'),
          ...forLoop('t', i32(0), get('gn'), 1, [
            `(f32.store offset=${cap * 4} ${add(get('sb'), `(i32.shl (i32.load offset=${G.index * 4} ${add(get('pg'), mul(get('t'), i32(4)))}) (i32.const 2))`)} (f32.load offset=${G.value * 4} ${add(get('pg'), mul(get('t'), i32(4)))}))`,
          ], 'e'),
        ]
      : []),
  ], 'p');
  const gAt = gCap > 0
    ? `(f32.load offset=${cap * 4} ${add(add(i32(Sb), mul(get('b'), i32(slot * 4))), mul(get('u'), i32(4)))})`
    : `(f32.load ${add(i32(Gb), mul(add(mul(get('b'), i32(units)), get('u')), i32(4)))})`;
  const rows = forLoop('u', i32(0), i32(units), 1, [
    set('row', add(i32(Wb), mul(get('u'), i32(rowB)))),
    ...forLoop('b', get('lo'), get('hi'), 1, [
      set('gv', gAt),
      `(if (f32.ne ${get('gv')} (f32.const 0)) (then`,
      set('pv', add(i32(Ob), mul(get('b'), i32(L.stride * 4)))),
      set('ps', add(i32(Sb), mul(get('b'), i32(slot * 4)))),
      set('n', `(i32.trunc_sat_f32_u (f32.load ${get('pv')}))`),
      set('n4', `(i32.and ${get('n')} ${i32(0xfffffffc)})`),
      ...forLoop('j', i32(0), get('n4'), 4, [mac(0), mac(1), mac(2), mac(3), set('pv', add(get('pv'), i32(16))), set('ps', add(get('ps'), i32(16)))], 'm4'),
      ...forLoop('j', get('n4'), get('n'), 1, [mac(0), set('pv', add(get('pv'), i32(4))), set('ps', add(get('ps'), i32(4)))], 'm1'),
      '))',
    ], 'rb'),
  ], 'ru');
  const locals = ['b', 'u', 'pa', 'po', 'sb', 'pg', 'n', 'n4', 'gn', 'j', 't', 'row', 'pv', 'ps', 'i'].map((v) => `(local $${v} i32)`).concat(['(local $gv f32)']);
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, [...prepare, ...rows]);
  // Each chunk reads the rows of W its samples use: chunks of a quarter of the batch at least, so W is read a few times, not once per thread's every slice.
  return { text: fn(k, batch, [`W.${name}(lo, hi);`]), partition: { extent: batch, grain: Math.max(1, Math.ceil(batch / 4)), work: batch * Math.min(cap, 128) * Math.min(gCap || units, 128) + units * batch }, scratchFloats: batch * slot };
};

/**
 * linearGradWOuter (WebAssembly): the weight gradient by rows (units), split across threads. For
 * compact g, it first lists per unit of its range the samples whose g is active there, in sample
 * order, with g's value, into the unit's slots of the scratch area (all samples when g is dense).
 * Then it builds each row (see `rows` below for where): x's rows up to 4 samples at a time,
 * ((g0 x0 + g1 x1) + g2 x2) + g3 x3 and then (((row + g4 x4) + ...), when x is dense; a scatter of
 * each sample's list when x is compact. Then the fused momentum (buf' = mu buf + row + wd w) and,
 * when it absorbs the sgdUpdate of the same weight, w' = (w - lr buf') x mask, in one SIMD pass
 * over the row.
 */
const gradWOuter = (ir: IR, k: Kernel, op: Op, batch: number, addr: AddressOf, scratch: number, wasm: WasmFunctions, sgd: Kernel | undefined): SparseKernelCode => {
  const { units: U, fanIn: F, gCap, xCap } = op.attrs as Record<string, number>;
  const [g, x] = op.inputs;
  const G = compactLayout(gCap || 1);
  const X = compactLayout(xCap || 1);
  const F4 = F - (F % 4);
  const rowB = F * 4;
  const scrB = scratch * 4;
  const entB = (scratch + U * F) * 4; // per unit: batch slots of (sample, g value)
  const cntB = entB + U * batch * 8; // per unit: its number of entries
  const fusedOps = k.ops.slice(1).map((o) => ir.ops[o]);
  const fm = fusedMomentum(fusedOps);
  const momentum = fm?.momentum;
  // Where rows are built: with momentum alone fused (and a sparse weight's mask of it), one buffer per call (the scratch slot of the
  // range's first unit, which no other thread's range has: it stays in cache) and a SIMD epilogue;
  // with other fused ops (DropConnect's mask), each row's own scratch slot, the ops then applied in
  // JavaScript as the rows are copied out; with none, the output row itself.
  const rows = momentum ? 'buffer' : fusedOps.length ? 'scratch' : 'output';
  // Entry e of the current unit: its sample b and value gv.
  const entry = (e: string): string[] => gCap > 0
    ? [set('b', `(i32.load ${add(get('pe'), mul(e, i32(8)))})`), set('gv', `(f32.load offset=4 ${add(get('pe'), mul(e, i32(8)))})`)]
    : [set('b', e), set('gv', `(f32.load ${add(i32(addr(g) * 4), mul(add(mul(get('b'), i32(U)), get('u')), i32(4)))})`)];
  const xRow = (b: string) => (xCap > 0 ? add(i32(addr(x) * 4), mul(b, i32(X.stride * 4))) : add(i32(addr(x) * 4), mul(b, i32(rowB))));
  const zero = [
    ...forLoop('q', i32(0), i32(F4 * 4), 16, [`(v128.store ${add(get('row'), get('q'))} (v128.const i32x4 0 0 0 0))`], 'z4'),
    ...forLoop('q', i32(F4 * 4), i32(F * 4), 4, [`(f32.store ${add(get('row'), get('q'))} (f32.const 0))`], 'z1'),
  ];
  /** row = (or +=, with `accumulate`) the sum over R sources s0.. with values v0.., in source order (vectors, then scalars). */
  const axpy = (R: number, accumulate: boolean, tag: string): string[] => {
    const term = (vec: boolean) => {
      const t = vec ? 'f32x4' : 'f32';
      const ld = vec ? 'v128.load' : 'f32.load';
      const prod = (r: number) => `(${t}.mul ${get(vec ? `v${r}` : `f${r}`)} (${ld} ${add(get(`s${r}`), get('q'))}))`;
      let e = accumulate ? `(${t}.add (${ld} ${add(get('row'), get('q'))}) ${prod(0)})` : prod(0);
      for (let r = 1; r < R; r++) e = `(${t}.add ${e} ${prod(r)})`;
      return `(${vec ? 'v128' : 'f32'}.store ${add(get('row'), get('q'))} ${e})`;
    };
    return [...forLoop('q', i32(0), i32(F4 * 4), 16, [term(true)], `${tag}4`), ...forLoop('q', i32(F4 * 4), i32(F * 4), 4, [term(false)], `${tag}1`)];
  };
  const load = (r: number, e: string): string[] => [...entry(e), set(`s${r}`, xRow(get('b'))), set(`f${r}`, get('gv')), set(`v${r}`, `(f32x4.splat ${get('gv')})`)];
  // Up to 4 entries per pass over the row: the first pass writes the row, the next ones add to it.
  const passes = (accumulate: boolean) =>
    [4, 3, 2, 1].reduceRight(
      (rest, R) => [`(if (i32.ge_u ${get('r')} ${i32(R)}) (then`, ...Array.from({ length: R }, (_, i) => load(i, add(get('e'), i32(i)))).flat(), ...axpy(R, accumulate, `${accumulate ? 'a' : 'w'}${R}`), set('e', add(get('e'), i32(R))), `) (else ${rest.join(' ')}))`],
      ['(nop)'],
    );
  const build = xCap > 0
    ? [
        ...zero,
        ...forLoop('e', i32(0), get('n'), 1, [
          ...entry(get('e')),
          set('s0', xRow(get('b'))),
          set('xn', `(i32.trunc_sat_f32_u (f32.load ${get('s0')}))`),
          // two scatters per step (a list's indices are distinct), then the last one
          ...forLoop('t', i32(0), `(i32.and ${get('xn')} ${i32(0xfffffffe)})`, 2, [0, 1].flatMap((d) => [
            set('p', add(get('row'), `(i32.shl (i32.load offset=${(X.index + d) * 4} ${add(get('s0'), mul(get('t'), i32(4)))}) (i32.const 2))`)),
            `(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) (f32.mul ${get('gv')} (f32.load offset=${(X.value + d) * 4} ${add(get('s0'), mul(get('t'), i32(4)))}))))`,
          ]), 'x'),
          `(if (i32.and ${get('xn')} (i32.const 1)) (then`,
          set('t', `(i32.sub ${get('xn')} (i32.const 1))`),
          set('p', add(get('row'), `(i32.shl (i32.load offset=${X.index * 4} ${add(get('s0'), mul(get('t'), i32(4)))}) (i32.const 2))`)),
          `(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) (f32.mul ${get('gv')} (f32.load offset=${X.value * 4} ${add(get('s0'), mul(get('t'), i32(4)))}))))`,
          '))',
        ], 'xe'),
      ]
    : [
        set('e', i32(0)),
        `(if (i32.eqz ${get('n')}) (then ${zero.join(' ')}) (else`,
        set('r', get('n')),
        ...passes(false),
        '(block $dx (loop $dl',
        set('r', `(i32.sub ${get('n')} ${get('e')})`),
        `(br_if $dx (i32.eqz ${get('r')}))`,
        ...passes(true),
        '(br $dl)))',
        '))',
      ];
  // The epilogue pass over the row: momentum, then the absorbed update.
  const rowOf = (v: number) => add(i32(addr(v) * 4), mul(get('u'), i32(rowB)));
  let finish: string[] = [];
  let finishLocals: string[] = [];
  if (momentum) {
    const [, buf, w, mu, wd] = momentum.inputs;
    const upd = sgd ? ir.ops[sgd.ops[0]] : undefined;
    const vec = (q: string) => {
      const raw = `(f32x4.add (f32x4.add (f32x4.mul ${get('mu')} (v128.load ${add(get('pb'), q)})) (v128.load ${add(get('row'), q)})) (f32x4.mul ${get('wd')} (v128.load ${add(get('pw'), q)})))`;
      const next = fm?.mask !== undefined ? `(f32x4.mul ${raw} (v128.load ${add(get('pk'), q)}))` : raw;
      if (!upd) return [`(v128.store ${add(get('po'), q)} ${next})`];
      const w2 = `(f32x4.sub (v128.load ${add(get('pw'), q)}) (f32x4.mul ${get('lr')} ${get('nb')}))`;
      return [set('nb', next), `(v128.store ${add(get('po'), q)} ${get('nb')})`, `(v128.store ${add(get('pw'), q)} ${upd.inputs[3] !== undefined ? `(f32x4.mul ${w2} (v128.load ${add(get('pm'), q)}))` : w2})`];
    };
    const one = (q: string) => {
      const raw = `(f32.add (f32.add (f32.mul ${get('m')} (f32.load ${add(get('pb'), q)})) (f32.load ${add(get('row'), q)})) (f32.mul ${get('d')} (f32.load ${add(get('pw'), q)})))`;
      const next = fm?.mask !== undefined ? `(f32.mul ${raw} (f32.load ${add(get('pk'), q)}))` : raw;
      if (!upd) return [`(f32.store ${add(get('po'), q)} ${next})`];
      const w2 = `(f32.sub (f32.load ${add(get('pw'), q)}) (f32.mul ${get('l')} ${get('ns')}))`;
      return [set('ns', next), `(f32.store ${add(get('po'), q)} ${get('ns')})`, `(f32.store ${add(get('pw'), q)} ${upd.inputs[3] !== undefined ? `(f32.mul ${w2} (f32.load ${add(get('pm'), q)}))` : w2})`];
    };
    finish = [
      set('pb', rowOf(buf)),
      set('pw', rowOf(w)),
      set('po', rowOf(k.output)),
      ...(upd?.inputs[3] !== undefined ? [set('pm', rowOf(upd.inputs[3]))] : []),
      ...(fm?.mask !== undefined ? [set('pk', rowOf(fm.mask))] : []),
      ...forLoop('q', i32(0), i32(F4 * 4), 16, vec(get('q')), 'm4'),
      ...forLoop('q', i32(F4 * 4), i32(F * 4), 4, one(get('q')), 'm1'),
    ];
    finishLocals = [
      set('m', `(f32.load ${i32(addr(mu) * 4)})`), set('d', `(f32.load ${i32(addr(wd) * 4)})`),
      set('mu', `(f32x4.splat ${get('m')})`), set('wd', `(f32x4.splat ${get('d')})`),
      ...(upd ? [set('l', `(f32.load ${i32(addr(upd.inputs[2]) * 4)})`), set('lr', `(f32x4.splat ${get('l')})`)] : []),
    ];
  }
  // Per unit of [lo, hi): its entries (sample as int32, g value) in sample order, built here from g's lists.
  const lists = gCap > 0
    ? [
        ...forLoop('u', get('lo'), get('hi'), 1, [`(i32.store ${add(i32(cntB), mul(get('u'), i32(4)))} (i32.const 0))`], 'lz'),
        ...forLoop('b', i32(0), i32(batch), 1, [
          set('pe', add(i32(addr(g) * 4), mul(get('b'), i32(G.stride * 4)))),
          set('xn', `(i32.trunc_sat_f32_u (f32.load ${get('pe')}))`),
          ...forLoop('t', i32(0), get('xn'), 1, [
            set('u', `(i32.load offset=${G.index * 4} ${add(get('pe'), `(i32.shl ${get('t')} (i32.const 2))`)})`),
            `(if (i32.and (i32.ge_u ${get('u')} ${get('lo')}) (i32.lt_u ${get('u')} ${get('hi')})) (then`,
            set('p', add(i32(cntB), mul(get('u'), i32(4)))),
            set('e', `(i32.load ${get('p')})`),
            `(i32.store ${get('p')} (i32.add ${get('e')} (i32.const 1)))`,
            set('p', add(i32(entB), mul(add(mul(get('u'), i32(batch)), get('e')), i32(8)))),
            `(i32.store ${get('p')} ${get('b')})`,
            `(f32.store offset=4 ${get('p')} (f32.load offset=${G.value * 4} ${add(get('pe'), `(i32.shl ${get('t')} (i32.const 2))`)}))`,
            '))',
          ], 'lt'),
        ], 'lb'),
      ]
    : [];
  const body = [
    ...lists,
    ...finishLocals,
    ...(rows === 'buffer' ? [set('row', add(i32(scrB), mul(get('lo'), i32(rowB))))] : []),
    ...forLoop('u', get('lo'), get('hi'), 1, [
      ...(rows === 'scratch' ? [set('row', add(i32(scrB), mul(get('u'), i32(rowB))))] : rows === 'output' ? [set('row', rowOf(k.output))] : []),
      ...(gCap > 0 ? [set('n', `(i32.load ${add(i32(cntB), mul(get('u'), i32(4)))})`), set('pe', add(i32(entB), mul(get('u'), i32(batch * 8))))] : [set('n', i32(batch))]),
      ...build,
      ...finish,
    ], 'u'),
  ];
  const locals = ['u', 'n', 'r', 'e', 'b', 'q', 't', 'xn', 'p', 'pe', 'row', 'pb', 'pw', 'po', 'pm', 'pk', 's0', 's1', 's2', 's3'].map((v) => `(local $${v} i32)`)
    .concat([0, 1, 2, 3].map((r) => `(local $f${r} f32) (local $v${r} v128)`), ['gv', 'm', 'd', 'l', 'ns'].map((v) => `(local $${v} f32)`), ['mu', 'wd', 'lr', 'nb'].map((v) => `(local $${v} v128)`));
  const name = wasm.add('(param $lo i32) (param $hi i32)', locals, body);
  return {
    text: fn(k, U, [
      `W.${name}(lo, hi);`,
      ...(rows === 'scratch' ? [`for (let o = lo * ${int(F)}; o < hi * ${int(F)}; o++) {`, `  let v = M[${int(scratch)} + o];`, ...store(ir, k, addr, batch).map((l) => `  ${l}`), '}'] : []),
    ]),
    partition: { extent: U, grain: 4, work: U * F + batch * Math.min(gCap || U, 128) * (xCap ? Math.min(xCap, 128) : F / 4) },
    scratchFloats: U * F + U * batch * 2 + U,
  };
};
