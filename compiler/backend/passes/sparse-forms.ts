/**
 * Pass `sparseForms` (cpu backend): rewrites the layers where sparsity pays into the sparse-form
 * primitives of `compiler/ops/prim/sparse.ts`, choosing per layer from the densities the compiler
 * knows, by a cost model (below). It runs after `optimizer` on a training step and after
 * `decompose` on inference, and computes the same values as the IR it rewrites (same k-winners
 * winners, same sums up to float32 rounding order).
 *
 * **k-winners layers.** A global k-winners layer (`kwtaThreshold` + `kwtaApply`) whose output is
 * read only by `linear` layers (as their input), their weight gradients and its duty-cycle update
 * becomes one `kwtaCompact` producing per sample its winners' indices and values. Then:
 * - the next layer's forward `linear(a, W)` is `gather(a, transpose(W))`: for each winner,
 *   value x row of W^T (a SIMD axpy over the layer's units);
 * - the duty cycle counts winners (`dutyCycleCompact`);
 * - backward, `kwtaGrad(linearGradX(g, W), ...)` (the gradient passes only at the winners) is
 *   `linearGradXAt(g, W, a)`, computed at the winners only and itself compact; from there the
 *   layer's `biasGrad` is `biasGradCompact`, its weight gradient `linearGradWOuter` (outer products
 *   of winners x active inputs, per sample), and the gradient reaching its own input is computed at
 *   the previous k-winners layer's winners (`linearGradXAt` again) or, when that input is dense, by
 *   `gather(g, W)` (rows of W for the winners only).
 *
 * **The first layer.** `linear(x, W)` on the network input becomes
 * `gather(compactInput(x), transpose(W, sums))`: each sample is compacted around its first value
 * c (MNIST's normalised background, -0.4242, covers about 80% of the pixels) and
 * W x = c x rowsum(W) + W (x - c) skips every background input exactly.
 *
 * **Cost model.** Per sample, in units of one SIMD multiply-add of the register-blocked dense
 * products (4 multiply-adds): a dense product of a layer with U units and fan-in F costs U F / 4;
 * a gather of k active inputs costs GATHER x k U / 4 (an axpy per active input, without the dense
 * product's register blocking) plus the transpose, TRANSPOSE x U F per call, shared by the batch;
 * a scalar multiply-add at scattered addresses (winners x winners, winners x units) costs SCALAR.
 * The constants (`formCosts`) were measured on the cpu backend's kernels on one core of this
 * project's 2-core machine (a dense product: about 0.35 ns per 4 multiply-adds). For each
 * candidate k-winners layer the pass sums both forms over the ops it changes (its consumers'
 * forward products, the gradient reaching it, and its own backward products, the neighbouring
 * k-winners layers taken in the form they are given: first every candidate compact, then again
 * without those that do not pay, until the choices settle) and picks the cheaper. A 90%-dense
 * k-winners layer stays dense; 10% goes compact. The first layer's input density is
 * `inputDensity` (a compile option: the fraction of a sample's inputs that differ from its first;
 * 0.25 by default, MNIST-like images); its transpose is shared by the batch, so at batch 8 it
 * stays dense and at 64 it skips the background.
 *
 * **Sparse weights** (`compiler/ops/prim/sparse-weights.ts`). A dense layer whose weight is its
 * own param (not DropConnect's product) with a mask keeping `kept` of its F inputs per unit, and
 * whose input is not compact, may compute over its kept weights only, from per-unit index lists
 * (`maskIndex`): the forward `linear` becomes `linearIdx`, and its gradients that arrive dense
 * `linearIdxGradX` and `linearIdxGradW` (a gradient that arrives compact, from a compact
 * k-winners layer above, keeps its compact form, which already skips most of the work); on the
 * cpu backend the input is transposed once per call (`transposeBatch`, samples as columns) so the
 * kernels run SIMD over the samples. Costs per sample: IDX x U kept / 4 forward plus TRANSPOSE x F
 * for the transpose, IDX_GRADW x U kept / 4 + U F / batch (zeroing the rows) for the weight
 * gradient, IDX_GRADX x U kept / 4 + (TRANSPOSE + 1) F for the input gradient, against U F / 4
 * for each dense product; the layer goes to index lists when their sum is smaller (at the
 * measured constants, below a weight density of about 1 / IDX). A layer on the network input
 * weighs three forms: dense, the background-skipping gather (its gradients then dense) and index
 * lists. The choice is per layer and `why` says it (FormChoice subject `weights`, or `input` for
 * a first layer whose background skipping wins). A layer reading a compact k-winners output keeps
 * its gather (a compact input already skips the inactive inputs; intersecting its list with the
 * index lists pays only at very low densities), and the report says so. The k-winners costs
 * above take such a layer's dense alternative at its full U F / 4.
 *
 * **gpujs target** (`target: 'gpujs'`, the gpu.js backends). One thread per output element, no
 * scatters, so a subset of the forms, arranged for that: a compact k-winners layer keeps its dense
 * output (read by its duty cycle and by the weight gradient above it, whose per-(unit, input)
 * thread loops over the batch: the dense output is the per-sample index map) and adds the compact
 * one, `kwtaCompact(x, dc, s, threshold, kwtaBlockCounts(...))` (each slot of the record finds its
 * winner from the winners per block of 32 members). The next layer's forward is
 * `gather(c, transpose(W))`: a thread per (sample, unit) loops over the sample's winners only.
 * Backward, `kwtaGrad(linearGradX(g, W), ...)` is `expand(linearGradXAt(g, W, c))`: the gradient
 * computed at the winners only, then written back densely for the dense ops that read it. No
 * first-layer background skipping, convolution or pooling forms, and breakTies layers stay dense.
 * Every k-winners threshold (compact or not) reads its keys from `kwtaKeys`, computed once per
 * call, instead of evaluating x exp(-strength dc) at each of its 64 bisection steps.
 * Costs (`gpujsCosts`) count loop iterations over all threads of a sample.
 *
 * Every other backend gets the dense IR.
 *
 * **Convolutions** (`./sparse-conv-forms.ts`): a compact k-winners output may also feed a
 * convolution (a scatter of each winner through its filter taps), and a k-winners layer after a
 * convolution (and max-pooling) passes its compact gradient back through them; a first-layer
 * convolution without padding skips the input's background. Their admission tests, costs and
 * rewrites live there; this pass calls them where it handles dense layers.
 */
import type { IR, Op } from '../../ir.ts';
import { builder, finish, type Builder } from '../emitter.ts';
import {
  convConsumer, convConsumerCost, convGradReaching, convGradReachingCost, convGradUserCost, convGradUserProblem, convInputCost, convSkipsBackground, poolGradCost, poolGradProblem, rewriteConvOp,
} from './sparse-conv-forms.ts';
import { externalValues } from './fuse.ts';
import { MASK_SKIP_DENSITY } from '../../codegen/gpujs/kernels.ts';
import { batchStride } from '../../ops/prim/sparse-weights.ts';

/** Options of the pass. */
export interface SparseFormsOptions {
  /** The batch size the program is compiled for (transposes are shared by the batch). */
  readonly batch: number;
  /** Expected fraction of a sample's input elements that differ from its first element (default 0.25). */
  readonly inputDensity?: number;
  /** `auto` (default): the cost model decides; `always`: every layer that has a compact form gets it (tests). */
  readonly mode?: 'auto' | 'always';
  /** The backend the forms are for: `cpu` (default) or `gpujs` (see the module doc). */
  readonly target?: 'cpu' | 'gpujs';
}

/** The default `inputDensity`: MNIST digits leave about 80% of the pixels at the background. */
export const defaultInputDensity = 0.25;

/**
 * Cost-model constants, in units of one SIMD multiply-add (4 multiply-adds) of the register-blocked
 * dense products, measured on the cpu backend (batch 64, one core, minima over steps): the
 * gathers of sparse-mlp's first and second layers ran at 1.3 and 1.8 units per 4 multiply-adds, a
 * 1000 x 1000 transpose at 1.4 per element, and the scattered multiply-adds of linearGradXAt and
 * of the weight-gradient scatter at about 4.5 each.
 */
export const formCosts = {
  /** Per 4 multiply-adds of a gather (axpy of one row per active input). */
  GATHER: 1.5,
  /** Per element of a transpose (once per call). */
  TRANSPOSE: 1.4,
  /** Per scalar multiply-add at a scattered address. */
  SCALAR: 4.5,
  /**
   * Per 4 multiply-adds of the index-list forward product (`linearIdx`: a SIMD axpy over the
   * samples per kept weight), against the dense product's 1. Measured (batch 64, one thread, minima
   * over 40 steps interleaved with the dense form, on a heavily loaded 2-core machine: noisy):
   * 784 -> 1000 at 30% weights 3.2 ms against 5.6 dense, 1000 -> 1000 at 30% 3.8 against 6.3: 1.9-2.0.
   */
  IDX: 2,
  /**
   * Per 4 multiply-adds of the index-list weight gradient (`linearIdxGradW`: a SIMD dot over the
   * samples per kept weight, its momentum in SIMD), against the dense weight gradient's 1 (its
   * momentum in JavaScript). Measured as above: 784 x 1000 at 30% 5.7-6.1 ms against 12.4 dense, at
   * 50% 9.5 against 14.6: 1.3-1.6.
   */
  IDX_GRADW: 1.5,
  /**
   * Per 4 multiply-adds of the index-list input gradient (`linearIdxGradX`: an axpy over the samples
   * into the transposed gradient, one thread), against the dense one's 1. Measured as above:
   * 1000 x 1000 at 30% 4.9 ms against 6.7 dense: 2.4.
   */
  IDX_GRADX: 2.5,
} as const;

/**
 * Cost-model constants of the gpujs target, whose costs count loop iterations (per thread, summed
 * over a sample's threads): a dense product of U units and fan-in F is U F; a gather over k
 * winners GATHER U k (its loop stops after the sample's winners).
 */
export const gpujsCosts = {
  /** Members per block of the compaction's counts (`KWTA_BLOCK`). */
  BLOCK: 32,
  /** Iterations of the binary search by which `expand` finds each element in the list. */
  SEARCH: 11,
  /**
   * Cost of one iteration over the winners (read index and value, then W at a data-dependent row)
   * against one of a dense product. Measured kernel by kernel on gpujs:webasm (sparse-mlp, batch
   * 64, a loaded 2-core machine): the gather 2.1x, linearGradXAt 2.7x a dense product's iteration.
   */
  GATHER: 2.5,
  /**
   * Cost of one iteration of `linearIdx` over a unit's index list (read the index, then x and W at
   * it) against one of a dense product: measured 2.4-3.4x on gpujs:webasm (784 x 1000 at 10%, 30%
   * and 50% kept, batch 64, a loaded 2-core machine). The lists pay below about a third kept.
   */
  INDEX: 3,
  /**
   * Cost of one compaction iteration (each reads a key from the layer's `kwtaKeys`):
   * kwtaBlockCounts + kwtaCompact at about 1x the iterations counted below, in dense-product
   * iterations (2.5x when each iteration evaluated its key, an exp; reading the keys cut their time
   * to about 0.4x on gpujs:webasm, sparse-mlp batch 64, a loaded 2-core machine).
   */
  KEYS: 1,
} as const;

/** One decision of the pass, for `asText` and `winnow inspect --kernels`. */
export interface FormChoice {
  /** The layer the decision is about (the k-winners layer, or the first dense layer). */
  readonly layer?: number;
  /**
   * A k-winners layer's output, the input of a dense layer (the network input, or one of unknown
   * density), a max-pooling layer's gradient, or a dense layer's sparse weights (compact: per-unit
   * index lists).
   */
  readonly subject: 'kwta' | 'input' | 'pool' | 'weights';
  readonly form: 'compact' | 'dense';
  /** Estimated cost per sample of each form. */
  readonly denseCost: number;
  readonly compactCost: number;
  /** One line: the densities and the costs that decided. */
  readonly why: string;
}

interface Plan {
  readonly choices: ReadonlyArray<FormChoice>;
  /** kwtaApply ids to compact. */
  readonly compact: ReadonlySet<number>;
  /** linear (and conv) ids whose input (the network input) is compacted around its background. */
  readonly skip: ReadonlySet<number>;
  /** maxPoolGrad ids whose dense incoming gradient becomes a compact one (one value per window). */
  readonly poolGrads: ReadonlySet<number>;
  /** Layers whose sparse weights are used as per-unit index lists. */
  readonly indexed: ReadonlySet<number>;
  /** The ops that become index-list forms (linear, linearGradX, linearGradW), by id: their layer and kept inputs per unit. */
  readonly indexedOps: ReadonlyMap<number, { readonly layer: number; readonly kept: number }>;
  /** The forms are for the gpujs backend. */
  readonly gpujs: boolean;
  /** The batch the program is compiled for. */
  readonly batch: number;
}

const round = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const pct = (x: number): string => `${+(x * 100).toFixed(1)}%`;

/** Readers of every value. */
const usersOf = (ir: IR): Op[][] => {
  const users: Op[][] = ir.ops.map(() => []);
  for (const op of ir.ops) for (const i of new Set(op.inputs)) users[i].push(op);
  return users;
};

/** The kernel choices of a program: which k-winners layers go compact and whether the first layer skips its background. */
export const planSparseForms = (ir: IR, options: SparseFormsOptions): Plan => {
  const { GATHER, TRANSPOSE, SCALAR } = formCosts;
  const B = options.batch;
  const rho = options.inputDensity ?? defaultInputDensity;
  const users = usersOf(ir);
  const external = externalValues(ir);
  const gpujs = options.target === 'gpujs';
  const choices: FormChoice[] = [];
  const compact = new Set<number>();
  const skip = new Set<number>();
  const weightNote = (w: number): string => {
    const mask = ir.ops.find((o) => o.op === 'mask' && o.layer !== undefined && o.layer === ir.ops[w].layer);
    return mask ? '; its sparse weights are read as dense rows of W^T (the compact input already skips the inactive inputs)' : '';
  };

  /** k-winners layers that have a compact form (structurally). */
  interface Candidate { readonly a: Op; readonly t: Op; readonly n: number; readonly k: number; readonly at: string; readonly consumers: ReadonlyArray<Op>; readonly grads: ReadonlyArray<Op> }
  const candidates: Candidate[] = [];
  for (const a of ir.ops) {
    if (a.op !== 'kwtaApply') continue;
    const t = ir.ops[a.inputs[1]];
    const y = a.inputs[0];
    const n = a.attrs.members as number;
    const k = a.attrs.k as number;
    const at = `k-winners layer ${a.layer ?? '?'} (${k} of ${n}, ${pct(k / n)} active)`;
    const refuse = (why: string) => choices.push({ layer: a.layer, subject: 'kwta', form: 'dense', denseCost: 0, compactCost: 0, why: `${at}: dense: ${why}` });
    if (t.op !== 'kwtaThreshold' || a.attrs.groups !== 1 || a.attrs.local) {
      refuse('local k-winners (per-position groups) have no compact form yet');
      continue;
    }
    if (gpujs && a.attrs.breakTies) {
      refuse('breakTies layers have no compact form on gpujs');
      continue;
    }
    if (external.has(a.id) || external.has(t.id)) {
      refuse('its output leaves the program');
      continue;
    }
    const consumers = users[a.id];
    const okConsumer = (u: Op) =>
      (u.op === 'linear' && u.inputs[0] === a.id && u.inputs[1] !== a.id) ||
      (u.op === 'linearGradW' && u.inputs[1] === a.id && u.inputs[0] !== a.id) ||
      (u.op === 'dutyCycle' && u.inputs[0] === a.id) ||
      (!gpujs && convConsumer(u, a.id));
    const bad = consumers.find((u) => !okConsumer(u));
    if (bad || !consumers.some((u) => u.op === 'linear' || u.op === 'conv')) {
      refuse(`read by ${bad ? bad.op : gpujs ? 'no dense layer' : 'no dense or convolution layer'} (compact outputs feed ${gpujs ? 'dense layers only on gpujs' : 'dense and convolution layers only'})`);
      continue;
    }
    const grads = users[t.id].filter((u) => u.id !== a.id);
    /** Why the gradient through this layer has no compact form, or undefined. */
    const gradProblem = (kg: Op): string | undefined => {
      if (kg.op !== 'kwtaGrad' || kg.inputs[2] !== t.id || kg.inputs[1] !== y || external.has(kg.id)) return `its threshold is read by ${kg.op}`;
      const gx = ir.ops[kg.inputs[0]];
      if ((gx.op !== 'linearGradX' && (gpujs || !convGradReaching(gx))) || users[gx.id].length !== 1 || external.has(gx.id)) return `the gradient reaching it comes from ${gx.op}`;
      if (gpujs) return undefined; // the gradient is expanded back to dense for its users
      const denseUser = (u: Op) => (u.op === 'biasGrad' || u.op === 'linearGradW' || u.op === 'linearGradX') && u.inputs[0] === kg.id && u.inputs[1] !== kg.id;
      return users[kg.id].map((u) => (denseUser(u) ? undefined : convGradUserProblem(u, kg.id, users, external))).find((p) => p !== undefined);
    };
    const problem = grads.map(gradProblem).find((p) => p !== undefined);
    if (problem) {
      refuse(problem);
      continue;
    }
    candidates.push({ a, t, n, k, at, consumers, grads });
  }

  // Costs per sample of the ops that change, in both forms, the neighbouring k-winners layers taken
  // in the form they are being given (first all compact; a layer that does not pay is then taken
  // dense by its neighbours and the costs are made again, until the choices settle).
  const byThreshold = new Map(candidates.map((c) => [c.t.id, c]));
  const costOf = (c: Candidate, active: ReadonlySet<number>) => (gpujs ? gpujsCostOf(c) : cpuCostOf(c, active));
  /** gpujs: loop iterations per sample over all threads (see `gpujsCosts`). */
  const gpujsCostOf = (c: Candidate) => {
    const { n, k } = c;
    const { BLOCK, SEARCH, GATHER: G, KEYS } = gpujsCosts;
    // compaction: block counts (one iteration per member), then per slot (index and value) a prefix over the blocks and a scan of one block
    let dense = 0;
    let sparse = KEYS * (n + 2 * n * (Math.ceil(n / BLOCK) + BLOCK));
    for (const u of c.consumers) {
      if (u.op !== 'linear') continue;
      const U = u.attrs.units as number;
      dense += U * n;
      sparse += G * U * k + (U * n) / B;
    }
    for (const kg of c.grads) {
      const U = ir.ops[kg.inputs[0]].attrs.units as number;
      dense += U * n + n;
      sparse += G * U * k + SEARCH * n;
    }
    return { dense, sparse };
  };
  const cpuCostOf = (c: Candidate, active: ReadonlySet<number>) => {
    const { n, k } = c;
    /** Active elements per sample of a value when it is compact (a chosen layer's winners or their gradient), else undefined. */
    const kOf = (v: number): number | undefined => {
      const o = ir.ops[v];
      const owner = o.op === 'kwtaApply' ? byThreshold.get(o.inputs[1]) : o.op === 'kwtaGrad' ? byThreshold.get(o.inputs[2]) : undefined;
      return owner && active.has(owner.a.id) ? owner.k : undefined;
    };
    let dense = 0;
    let sparse = 0;
    for (const u of c.consumers) {
      if (u.op === 'linear') {
        const U = u.attrs.units as number;
        dense += (U * n) / 4;
        sparse += (GATHER * k * U) / 4 + (TRANSPOSE * U * n) / B;
      } else if (u.op === 'linearGradW') {
        const U = u.attrs.units as number;
        dense += (U * n) / 4;
        sparse += SCALAR * (kOf(u.inputs[0]) ?? U) * k;
      } else if (u.op !== 'dutyCycle') {
        const cc = convConsumerCost(u, n, k, B, formCosts);
        dense += cc.dense;
        sparse += cc.sparse;
      } else {
        dense += n;
        sparse += k;
      }
    }
    for (const kg of c.grads) {
      const gx = ir.ops[kg.inputs[0]];
      if (gx.op === 'linearGradX') {
        const U = gx.attrs.units as number;
        dense += (U * n) / 4 + n;
        sparse += SCALAR * (kOf(gx.inputs[0]) ?? U) * k;
      } else {
        const cc = convGradReachingCost(gx, n, k, formCosts);
        dense += cc.dense;
        sparse += cc.sparse;
      }
      for (const u of users[kg.id]) {
        if (u.op === 'maxPoolGrad' || u.op === 'convGradW' || u.op === 'convGradX' || (u.op === 'biasGrad' && (u.attrs.hw as number) > 1)) {
          const cc = convGradUserCost(u, k, users, formCosts);
          dense += cc.dense;
          sparse += cc.sparse;
        } else if (u.op === 'biasGrad') {
          dense += n;
          sparse += k;
        } else {
          const F = u.attrs.fanIn as number;
          dense += (n * F) / 4;
          // linearGradW: winners x the input's active elements; linearGradX: at the previous layer's winners, else rows of W
          const next = u.op === 'linearGradX' && users[u.id].length === 1 ? kOf(users[u.id][0].id) : undefined;
          const kx = u.op === 'linearGradW' ? kOf(u.inputs[1]) : next;
          sparse += kx !== undefined ? SCALAR * k * kx : (GATHER * k * F) / 4;
        }
      }
    }
    return { dense, sparse };
  };
  let active: ReadonlySet<number> = new Set(candidates.map((c) => c.a.id));
  for (let pass = 0; pass <= candidates.length; pass++) {
    const next = new Set(candidates.filter((c) => active.has(c.a.id)).filter((c) => options.mode === 'always' || (({ dense, sparse }) => sparse < dense)(costOf(c, active))).map((c) => c.a.id));
    if (next.size === active.size) break;
    active = next;
  }
  for (const c of candidates) {
    const { dense, sparse } = costOf(c, active);
    const chosen = active.has(c.a.id);
    if (chosen) compact.add(c.a.id);
    const next = c.consumers.find((u) => u.op === 'linear' || u.op === 'conv')!;
    const how = next.op === 'conv' ? 'the next convolution scatters each winner through its filter taps' : 'the next layer gathers rows of W^T';
    choices.push({
      layer: c.a.layer,
      subject: 'kwta',
      form: chosen ? 'compact' : 'dense',
      denseCost: dense,
      compactCost: sparse,
      why: gpujs
        ? `${c.at}: ${chosen ? 'compact' : 'dense'}: winners as index lists beside the dense output, ${how}: ${round(sparse)} vs ${round(dense)} dense (estimated gpu.js loop iterations per sample)`
        : `${c.at}: ${chosen ? 'compact' : 'dense'}: winners as index lists, ${how}: ${round(sparse)} vs ${round(dense)} dense (estimated SIMD multiply-adds per sample)${chosen ? weightNote(next.inputs[1]) : ''}`,
    });
  }

  // Max-pooling gradients not already compact through a k-winners layer: one value per window.
  const poolGrads = new Set<number>();
  const indexed = new Set<number>();
  const indexedOps = new Map<number, { layer: number; kept: number }>();
  if (gpujs) {
    const weights = gpujsWeights(ir, users, compact, options.mode === 'always');
    choices.push(...weights.choices);
    choices.sort((p, q) => (p.layer ?? -1) - (q.layer ?? -1));
    return { choices, compact, skip, poolGrads, indexed: weights.indexed, indexedOps: weights.indexedOps, gpujs, batch: B };
  }
  const compactThresholds = new Set([...compact].map((id) => ir.ops[id].inputs[1]));
  for (const u of ir.ops) {
    if (u.op !== 'maxPoolGrad') continue;
    const g = ir.ops[u.inputs[0]];
    if (g.op === 'kwtaGrad' && compactThresholds.has(g.inputs[2])) continue;
    const { size: P, channels: C, height: H, width: W, outH, outW } = u.attrs as Record<string, number>;
    const layer = u.layer ?? ir.ops.find((o) => o.op === 'maxPool' && o.inputs[0] === u.inputs[1])?.layer;
    const at = `max-pooling layer ${layer ?? '?'} gradient (one element per ${P}x${P} window: ${C * outH * outW} of ${C * H * W})`;
    const problem = poolGradProblem(u, users, external);
    if (problem) {
      choices.push({ layer, subject: 'pool', form: 'dense', denseCost: 0, compactCost: 0, why: `${at}: dense: ${problem}` });
      continue;
    }
    const c = poolGradCost(u, users, formCosts);
    const chosen = c.sparse < c.dense || options.mode === 'always';
    if (chosen) poolGrads.add(u.id);
    choices.push({
      layer,
      subject: 'pool',
      form: chosen ? 'compact' : 'dense',
      denseCost: c.dense,
      compactCost: c.sparse,
      why: `${at}: ${chosen ? 'compact' : 'dense'}: the convolution before it takes gradients only there: ${round(c.sparse)} vs ${round(c.dense)} dense (estimated SIMD multiply-adds per sample)`,
    });
  }

  // Sparse weights: a dense layer whose weight (the layer's param itself, not DropConnect's
  // product) has a mask, and whose input is not compact, may compute over its kept weights only.
  const masks = new Map(ir.ops.filter((o) => o.op === 'mask' && o.layer !== undefined && o.attrs.kept !== undefined).map((o) => [o.layer!, o]));
  /** A gradient reaching a layer's output that is compact (the next k-winners layer is): its products keep their compact forms. */
  const compactGrad = (v: number) => ir.ops[v].op === 'kwtaGrad' && compactThresholds.has(ir.ops[v].inputs[2]);
  interface Indexable { readonly l: Op; readonly U: number; readonly F: number; readonly kept: number; readonly layer: number; readonly grads: ReadonlyArray<Op>; readonly dense: number; readonly cost: number; readonly at: string }
  const indexable = (l: Op): Indexable | undefined => {
    const w = ir.ops[l.inputs[1]];
    const mask = w.op === 'param' && w.attrs.role === 'weight' && w.layer !== undefined ? masks.get(w.layer) : undefined;
    if (l.op !== 'linear' || !mask || l.inputs[0] === l.inputs[1] || compact.has(l.inputs[0])) return undefined;
    const U = l.attrs.units as number;
    const F = l.attrs.fanIn as number;
    const kept = mask.attrs.kept as number;
    if (!(kept < F)) return undefined;
    const x = l.inputs[0];
    const grads = [
      ...users[w.id].filter((u) => u.op === 'linearGradX' && u.inputs[1] === w.id && u.inputs[0] !== w.id && !compactGrad(u.inputs[0])),
      ...users[x].filter((u) => u.op === 'linearGradW' && u.inputs[1] === x && u.inputs[0] !== x && u.attrs.units === U && u.attrs.fanIn === F && !compactGrad(u.inputs[0]) && users[u.id].some((m) => m.op === 'momentum' && m.inputs[2] === w.id)),
    ];
    // Per sample: the forward product and the gradients' products in both forms (the transposes of x and of gx shared by the batch's columns: per element).
    const { IDX, IDX_GRADW, IDX_GRADX } = formCosts;
    let dense = (U * F) / 4;
    let cost = (IDX * U * kept) / 4 + TRANSPOSE * F;
    for (const g of grads) {
      dense += (U * F) / 4;
      cost += g.op === 'linearGradW' ? (IDX_GRADW * U * kept) / 4 + (U * F) / B : (IDX_GRADX * U * kept) / 4 + (TRANSPOSE + 1) * F;
    }
    return { l, U, F, kept, layer: w.layer!, grads, dense, cost, at: `${pct(kept / F)} = ${kept} of ${F} kept per unit` };
  };
  const useIndexed = (c: Indexable) => {
    indexed.add(c.layer);
    for (const o of [c.l, ...c.grads]) indexedOps.set(o.id, { layer: c.layer, kept: c.kept });
  };
  const weighed = new Set<number>();

  const input = ir.ops.find((o) => o.op === 'input');
  if (input) {
    for (const l of users[input.id]) {
      if (convSkipsBackground(l, input.id)) {
        const c = convInputCost(l, rho, B, formCosts);
        const chosen = c.sparse < c.dense || options.mode === 'always';
        if (chosen) skip.add(l.id);
        const F = (l.attrs.channels as number) * (l.attrs.height as number) * (l.attrs.width as number);
        choices.push({
          layer: l.layer,
          subject: 'input',
          form: chosen ? 'compact' : 'dense',
          denseCost: c.dense,
          compactCost: c.sparse,
          why: `convolution layer ${l.layer ?? '?'} on the input (${F} values, assumed ${pct(rho)} off the background): ${chosen ? 'compact' : 'dense'}: background-skipping scatter ${round(c.sparse)} vs ${round(c.dense)} dense (estimated SIMD multiply-adds per sample)${chosen ? weightNote(l.inputs[1]) : ''}`,
        });
        continue;
      }
      if (l.op !== 'linear' || l.inputs[0] !== input.id) continue;
      const U = l.attrs.units as number;
      const F = l.attrs.fanIn as number;
      const dense = (U * F) / 4;
      const sparse = (GATHER * rho * F * U) / 4 + (TRANSPOSE * U * F) / B + F;
      const idx = indexable(l);
      if (idx) {
        // Three forms: dense, background-skipping gather (the forward only: its gradients stay dense), index lists.
        weighed.add(l.id);
        const denseAll = idx.dense;
        const skipAll = sparse + (idx.dense - dense);
        const form = options.mode === 'always' ? 'indexed' : idx.cost < Math.min(denseAll, skipAll) ? 'indexed' : skipAll < denseAll ? 'skip' : 'dense';
        if (form === 'skip') skip.add(l.id);
        if (form === 'indexed') useIndexed(idx);
        const what = `dense layer ${l.layer ?? '?'} on the input (${F} values, assumed ${pct(rho)} off the background) with sparse weights (${idx.at})`;
        choices.push({
          layer: l.layer,
          subject: form === 'indexed' ? 'weights' : 'input',
          form: form === 'dense' ? 'dense' : 'compact',
          denseCost: denseAll,
          compactCost: form === 'indexed' ? idx.cost : skipAll,
          why: `${what}: ${
            form === 'indexed'
              ? `compact: index lists ${round(idx.cost)} vs ${round(denseAll)} dense, ${round(skipAll)} background-skipping gather`
              : form === 'skip'
                ? `compact: background-skipping gather ${round(skipAll)} vs ${round(denseAll)} dense, ${round(idx.cost)} index lists`
                : `dense: ${round(denseAll)} vs ${round(skipAll)} background-skipping gather, ${round(idx.cost)} index lists`
          } (estimated SIMD multiply-adds per sample${idx.grads.length ? ', gradients included' : ''})`,
        });
        continue;
      }
      const chosen = sparse < dense || options.mode === 'always';
      if (chosen) skip.add(l.id);
      choices.push({
        layer: l.layer,
        subject: 'input',
        form: chosen ? 'compact' : 'dense',
        denseCost: dense,
        compactCost: sparse,
        why: `dense layer ${l.layer ?? '?'} on the input (${F} values, assumed ${pct(rho)} off the background): ${chosen ? 'compact' : 'dense'}: background-skipping gather ${round(sparse)} vs ${round(dense)} dense (estimated SIMD multiply-adds per sample)${chosen ? weightNote(l.inputs[1]) : ''}`,
      });
    }
  }
  // The other dense layers with sparse weights: index lists or dense columns.
  for (const l of ir.ops) {
    if (l.op !== 'linear' || weighed.has(l.id) || skip.has(l.id)) continue;
    const idx = indexable(l);
    if (!idx) continue;
    weighed.add(l.id);
    const chosen = idx.cost < idx.dense || options.mode === 'always';
    if (chosen) useIndexed(idx);
    choices.push({
      layer: l.layer,
      subject: 'weights',
      form: chosen ? 'compact' : 'dense',
      denseCost: idx.dense,
      compactCost: idx.cost,
      why: `dense layer ${l.layer ?? '?'} with sparse weights (${idx.at}): ${chosen ? 'compact: index lists' : 'dense: index lists would cost'} ${round(idx.cost)} vs ${round(idx.dense)} dense (estimated SIMD multiply-adds per sample${idx.grads.length ? ', gradients included' : ''})`,
    });
  }
  // The other dense layers: nothing known about their input's density.
  const covered = new Set([...skip, ...weighed, ...choices.flatMap((c) => (c.subject === 'kwta' ? ir.ops.filter((o) => o.op === 'linear' && ir.ops[o.inputs[0]].layer === c.layer).map((o) => o.id) : []))]);
  for (const l of ir.ops) {
    if (l.op !== 'linear' || covered.has(l.id) || (input && l.inputs[0] === input.id)) continue;
    const from = ir.ops[l.inputs[0]];
    choices.push({ layer: l.layer, subject: 'input', form: 'dense', denseCost: 0, compactCost: 0, why: `dense layer ${l.layer ?? '?'}: dense: its input (${from.op}) has no density the compiler knows (only k-winners outputs and the network input are compacted)` });
  }
  choices.sort((p, q) => (p.layer ?? -1) - (q.layer ?? -1));
  return { choices, compact, skip, poolGrads, indexed, indexedOps, gpujs, batch: B };
};

/**
 * The gpujs target's sparse weights: a dense layer whose weight (the layer's param itself, not
 * DropConnect's product) has a mask and whose input stays dense (not a compact k-winners output,
 * which the next layer already gathers) may compute its forward product from its per-unit index
 * lists, `linearIdx`: a thread per (sample, unit) looping over the unit's kept inputs only. Costs
 * in loop iterations per sample: U F dense, INDEX U kept with the lists.
 *
 * The gradients stay dense (exact: W is 0 off the mask): the input gradient `linearGradX` because
 * one thread per (sample, input) would need per-input (transposed) lists, whose lengths differ per
 * input and which are no source of the IR; the weight gradient `linearGradW` because the
 * scatter-free `linearIdxGradW` (a thread per (unit, input) that binary-searches the unit's sorted
 * list, then loops over the batch only where the input is kept, 0 elsewhere) measured slower than
 * the dense kernel on gpujs:webasm at 10%, 30% and 50% (784 x 1000, batch 64): the search costs,
 * and neighbouring threads run together, so the batch loop is skipped only where all of them skip.
 * The dense kernel itself skips the masked entries below `MASK_SKIP_DENSITY` (gpujs kernels.ts).
 * With `always` (the forced forms) the weight gradient takes `linearIdxGradW` too.
 */
const gpujsWeights = (ir: IR, users: ReadonlyArray<ReadonlyArray<Op>>, compact: ReadonlySet<number>, always: boolean) => {
  const { INDEX } = gpujsCosts;
  const choices: FormChoice[] = [];
  const indexed = new Set<number>();
  const indexedOps = new Map<number, { layer: number; kept: number }>();
  const masks = new Map(ir.ops.filter((o) => o.op === 'mask' && o.layer !== undefined && o.attrs.kept !== undefined).map((o) => [o.layer!, o]));
  for (const l of ir.ops) {
    if (l.op !== 'linear') continue;
    const w = ir.ops[l.inputs[1]];
    const mask = w.op === 'param' && w.attrs.role === 'weight' && w.layer !== undefined ? masks.get(w.layer) : undefined;
    if (!mask || l.inputs[0] === l.inputs[1] || compact.has(l.inputs[0])) continue;
    const U = l.attrs.units as number;
    const F = l.attrs.fanIn as number;
    const kept = mask.attrs.kept as number;
    if (!(kept < F)) continue;
    const x = l.inputs[0];
    const dense = U * F;
    const cost = INDEX * U * kept;
    const chosen = always || cost < dense;
    if (chosen) {
      indexed.add(w.layer!);
      indexedOps.set(l.id, { layer: w.layer!, kept });
      if (always) {
        const gradWs = users[x].filter((u) => u.op === 'linearGradW' && u.inputs[1] === x && u.inputs[0] !== x && u.attrs.units === U && u.attrs.fanIn === F && users[u.id].some((m) => m.op === 'momentum' && m.inputs[2] === w.id));
        for (const g of gradWs) indexedOps.set(g.id, { layer: w.layer!, kept });
      }
    }
    choices.push({
      layer: l.layer,
      subject: 'weights',
      form: chosen ? 'compact' : 'dense',
      denseCost: dense,
      compactCost: cost,
      why: `dense layer ${l.layer ?? '?'} with sparse weights (${pct(kept / F)} = ${kept} of ${F} kept per unit): ${chosen ? 'compact: index lists' : 'dense: index lists would cost'} ${round(cost)} vs ${round(dense)} dense (estimated gpu.js loop iterations per sample, forward; the gradients stay dense${kept <= MASK_SKIP_DENSITY * F ? ', the weight gradient skipping the masked entries' : ''})`,
    });
  }
  return { choices, indexed, indexedOps };
};

/** An op's layer, as the `extra` of `emit`. */
const layerOf = (op: Op): { layer?: number } => (op.layer !== undefined ? { layer: op.layer } : {});

/** `op` emitted again unchanged, reading `ins` (its inputs' new ids). */
const copyOp = (b: Builder, op: Op, ins: number[]): number =>
  b.emit(op.op, ins, op.attrs, { batched: op.batched, dtype: op.dtype, ...(op.shape && op.inputs.length === 0 ? { shape: op.shape } : {}), ...layerOf(op) });

/** The rewritten IR: `ir`'s output, results and updates renumbered through `ids` (old id -> new id). */
const finishRenumbered = (b: Builder, ir: IR, ids: ReadonlyMap<number, number>): IR => {
  const map = (v: number) => ids.get(v)!;
  return finish(
    b,
    ir,
    map(ir.output),
    Object.fromEntries(Object.entries(ir.results ?? {}).map(([k, v]) => [k, map(v)])),
    (ir.updates ?? []).map((u) => ({ source: map(u.source), value: map(u.value) })),
  );
};

/** A sparse weight's index lists: one `maskIndex` source per layer, emitted when first asked for. */
const maskIndexSources = (b: Builder) => {
  const sources = new Map<number, number>();
  return (layer: number, units: number, fanIn: number, kept: number): number => {
    let m = sources.get(layer);
    if (m === undefined) sources.set(layer, (m = b.emit('maskIndex', [], { role: 'weight', units, fanIn, kept }, { shape: [units, kept], batched: false, layer })));
    return m;
  };
};

/** The pass: rewrites `ir` by the plan (see the module doc). */
export const sparseForms = (options: SparseFormsOptions) => (ir: IR): IR => rewrite(ir, planSparseForms(ir, options));

const rewrite = (ir: IR, plan: Plan): IR => {
  if (plan.gpujs) return rewriteGpujs(ir, plan);
  if (plan.compact.size === 0 && plan.skip.size === 0 && plan.poolGrads.size === 0 && plan.indexed.size === 0) return ir;
  const users = usersOf(ir);
  const b = builder();
  const ids = new Map<number, number>();
  /** New ids of compact values, and their capacity. */
  const capOf = new Map<number, number>();
  /** kwtaThreshold and kwtaGrad ops replaced by the compact forms (kwtaGrad id -> the compact gradient's old-op stand-in). */
  const dropped = new Set<number>();
  const transposes = new Map<string, number>();
  const transposed = (w: number, sums: boolean, layer: { layer?: number }): number => {
    const key = `${w}:${sums}`;
    let t = transposes.get(key);
    if (t === undefined) {
      const [rows, cols] = b.op(w).shape!;
      transposes.set(key, (t = b.emit('transpose', [w], { rows, cols, sums }, { batched: false, ...layer })));
    }
    return t;
  };
  /** The compact kwtaApply (new id) a kwtaGrad's threshold belongs to. */
  const applyOfThreshold = new Map<number, number>();
  for (const id of plan.compact) {
    const a = ir.ops[id];
    applyOfThreshold.set(a.inputs[1], id);
    dropped.add(a.inputs[1]);
    for (const kg of users[a.inputs[1]]) if (kg.op === 'kwtaGrad') dropped.add(kg.id);
  }
  const gCapOf = (old: number) => capOf.get(ids.get(old)!) ?? 0;
  /** A sparse weight's index lists (one maskIndex source per layer) and the batch-transposed inputs (one per value), by layer and new id. */
  const maskIndex = maskIndexSources(b);
  const batchTransposes = new Map<number, number>();
  const transposedBatch = (x: number, fanIn: number, layer: { layer?: number }): number => {
    let t = batchTransposes.get(x);
    if (t === undefined) batchTransposes.set(x, (t = b.emit('transposeBatch', [x], { fanIn, batch: plan.batch, stride: batchStride(plan.batch) }, { batched: false, ...layer })));
    return t;
  };
  let idxOp: { readonly layer: number; readonly kept: number } | undefined;
  const conv = { b, users, capOf, dropped, applyOfThreshold, ids, skip: plan.skip, poolGrads: plan.poolGrads, layouts: new Map<string, number>() };
  let convId: number | undefined;

  for (const op of ir.ops) {
    if (dropped.has(op.id)) continue;
    const ins = op.inputs.map((i) => ids.get(i)!);
    let id: number;
    if (op.op === 'kwtaApply' && plan.compact.has(op.id)) {
      const cap = op.attrs.members as number;
      const [x, , dc, s] = ins;
      id = b.emit('kwtaCompact', [x, dc, s], { ...op.attrs, cap }, layerOf(op));
      capOf.set(id, cap);
    } else if (op.op === 'dutyCycle' && capOf.has(ins[0])) {
      id = b.emit('dutyCycleCompact', ins, { ...op.attrs, cap: capOf.get(ins[0])! }, { batched: false, ...layerOf(op) });
    } else if (op.op === 'linear' && capOf.has(ins[0])) {
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      id = b.emit('gather', [ins[0], transposed(ins[1], false, layerOf(op))], { rows: fanIn, cols: units, cap: fanIn, base: false }, layerOf(op));
    } else if (op.op === 'linear' && plan.skip.has(op.id)) {
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      const c = b.emit('compactInput', [ins[0]], { cap: fanIn }, layerOf(op));
      capOf.set(c, fanIn);
      id = b.emit('gather', [c, transposed(ins[1], true, layerOf(op))], { rows: fanIn, cols: units, cap: fanIn, base: true }, layerOf(op));
    } else if (op.op === 'linearGradX' && users[op.id].length === 1 && dropped.has(users[op.id][0].id)) {
      // kwtaGrad(linearGradX(g, W), y, threshold, ...) of a compact layer: g W at its winners only.
      const kg = users[op.id][0];
      const a = ids.get(applyOfThreshold.get(kg.inputs[2])!)!;
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      id = b.emit('linearGradXAt', [ins[0], ins[1], a], { units, fanIn, cap: capOf.get(a)!, gCap: gCapOf(op.inputs[0]) }, layerOf(kg));
      capOf.set(id, capOf.get(a)!);
      ids.set(kg.id, id);
    } else if (op.op === 'linearGradX' && capOf.has(ins[0])) {
      const { units, fanIn, shape } = op.attrs as { units: number; fanIn: number; shape: number[] };
      id = b.emit('gather', [ins[0], ins[1]], { rows: units, cols: fanIn, cap: units, base: false, ...(shape.length !== 1 ? { shape } : {}) }, layerOf(op));
    } else if (op.op === 'biasGrad' && capOf.has(ins[0])) {
      id = b.emit('biasGradCompact', ins, { ...op.attrs, cap: capOf.get(ins[0])! }, { batched: false, ...layerOf(op) });
    } else if (op.op === 'linearGradW' && (capOf.has(ins[0]) || capOf.has(ins[1]))) {
      id = b.emit('linearGradWOuter', ins, { ...op.attrs, gCap: capOf.get(ins[0]) ?? 0, xCap: capOf.get(ins[1]) ?? 0 }, { batched: false, ...layerOf(op) });
    } else if ((idxOp = plan.indexedOps.get(op.id)) !== undefined) {
      // A sparse weight's products over its kept inputs only (compiler/ops/prim/sparse-weights.ts).
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      const { layer, kept } = idxOp;
      const idx = maskIndex(layer, units, fanIn, kept);
      const attrs = { units, fanIn, kept };
      if (op.op === 'linear') id = b.emit('linearIdx', [ins[0], ins[1], idx, transposedBatch(ins[0], fanIn, { layer })], attrs, layerOf(op));
      else if (op.op === 'linearGradW') id = b.emit('linearIdxGradW', [ins[0], ins[1], idx, transposedBatch(ins[1], fanIn, { layer })], attrs, { batched: false, layer });
      else id = b.emit('linearIdxGradX', [ins[0], ins[1], idx], { ...attrs, shape: op.attrs.shape }, { layer });
    } else if ((convId = rewriteConvOp(op, ins, conv)) !== undefined) {
      id = convId;
    } else {
      if (op.inputs.some((i) => capOf.has(ids.get(i)!))) throw new Error(`sparseForms: %${op.id} ${op.op} reads a compact value`);
      id = copyOp(b, op, ins);
    }
    ids.set(op.id, id);
  }
  return finishRenumbered(b, ir, ids);
};

/** The gpujs target's rewrite (see the module doc): compact values beside the dense k-winners outputs. */
const rewriteGpujs = (ir: IR, plan: Plan): IR => {
  const users = usersOf(ir);
  const b = builder();
  const ids = new Map<number, number>();
  /** New id of a dense k-winners output -> its compact value. */
  const compactOf = new Map<number, number>();
  /** Old kwtaThreshold id -> the compact value of its layer. */
  const compactOfThreshold = new Map<number, number>();
  const dropped = new Set<number>();
  for (const id of plan.compact) for (const kg of users[ir.ops[id].inputs[1]]) if (kg.op === 'kwtaGrad') dropped.add(kg.id);
  const transposes = new Map<number, number>();
  /** New kwtaThreshold id -> its layer's kwtaKeys. */
  const keysOf = new Map<number, number>();
  /** A sparse weight's index lists: one maskIndex source per layer. */
  const maskIndex = maskIndexSources(b);
  let idxOp: { readonly layer: number; readonly kept: number } | undefined;
  for (const op of ir.ops) {
    if (dropped.has(op.id)) continue;
    const ins = op.inputs.map((i) => ids.get(i)!);
    let id: number;
    if (op.op === 'linear' && compactOf.has(ins[0])) {
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      let t = transposes.get(ins[1]);
      if (t === undefined) transposes.set(ins[1], (t = b.emit('transpose', [ins[1]], { rows: units, cols: fanIn, sums: false }, { batched: false, ...layerOf(op) })));
      id = b.emit('gather', [compactOf.get(ins[0])!, t], { rows: fanIn, cols: units, cap: fanIn, base: false }, layerOf(op));
    } else if (op.op === 'linearGradX' && users[op.id].length === 1 && dropped.has(users[op.id][0].id)) {
      const kg = users[op.id][0];
      const c = compactOfThreshold.get(kg.inputs[2])!;
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      const g = b.emit('linearGradXAt', [ins[0], ins[1], c], { units, fanIn, cap: fanIn, gCap: 0 }, layerOf(kg));
      id = b.emit('expand', [g], { cap: fanIn, shape: [...ir.ops[kg.id].shape!] }, layerOf(kg));
      ids.set(kg.id, id);
    } else if ((idxOp = plan.indexedOps.get(op.id)) !== undefined && (op.op === 'linear' || op.op === 'linearGradW')) {
      // a sparse weight's forward product and weight gradient over its kept inputs (gpujsWeights)
      const { units, fanIn } = op.attrs as { units: number; fanIn: number };
      const { layer, kept } = idxOp;
      const idx = maskIndex(layer, units, fanIn, kept);
      id = op.op === 'linear'
        ? b.emit('linearIdx', [ins[0], ins[1], idx], { units, fanIn, kept }, layerOf(op))
        : b.emit('linearIdxGradW', [ins[0], ins[1], idx], { units, fanIn, kept }, { batched: false, ...layerOf(op) });
    } else if (op.op === 'kwtaThreshold') {
      // the keys once per call, then the bisection (and the compaction) reads them: no exp per member and step
      const keys = b.emit('kwtaKeys', ins, op.attrs, layerOf(op));
      id = b.emit('kwtaThreshold', [...ins, keys], op.attrs, layerOf(op));
      keysOf.set(id, keys);
    } else {
      id = copyOp(b, op, ins);
      if (op.op === 'kwtaApply' && plan.compact.has(op.id)) {
        const [x, thr, dc, s] = ins;
        const keys = keysOf.get(thr)!;
        const counts = b.emit('kwtaBlockCounts', [x, dc, s, thr, keys], { ...op.attrs }, layerOf(op));
        const c = b.emit('kwtaCompact', [x, dc, s, thr, counts, keys], { ...op.attrs, cap: op.attrs.members as number }, layerOf(op));
        compactOf.set(id, c);
        compactOfThreshold.set(op.inputs[1], c);
      }
    }
    ids.set(op.id, id);
  }
  return finishRenumbered(b, ir, ids);
};
