/**
 * The benchmark's TensorFlow.js contenders: winnow's MLP model files (dense, dropout, sparse with
 * k-winners and boosting) written the way a TF.js user would write them, on the wasm backend.
 *
 * - Dense layers are `x W + b` with W of shape [in, units]. A sparse layer (`weightDensity` < 1) is
 *   a dense W with a fixed 0/1 mask (each unit keeps round(density x fan_in) random inputs, as in
 *   winnow), re-applied after every optimizer step (`W.assign(W * mask)`).
 * - Dropout is inverted dropout, as `tf.dropout` does it (a seeded mask per step).
 * - k-winners with boosting (nupic.torch semantics, as winnow's reference): winners are the units
 *   whose boosted value z * exp(-strength * dutyCycle) is >= the k-th largest boosted value of the
 *   sample (`tf.topk`); the output keeps z at the winners, 0 elsewhere; the gradient flows only
 *   through winners. Duty cycles follow dc = (dc * (period - batch) + count(out > 0)) / period with
 *   period = min(dutyCyclePeriod, samples seen), once per batch. At inference k is kInference.
 * - SGD with momentum (`tf.train.momentum`, PyTorch semantics), softmax cross-entropy (mean over
 *   the batch).
 *
 * Two variants:
 * - `stock`: `optimizer.minimize` on the forward pass (TF.js autodiff); k-winners, for which TF.js
 *   has no gradient (`tf.topk` has none), is a `tf.customGrad` op, as nupic.torch makes it an
 *   autograd Function.
 * - `best`: the same forward pass with fused matrix products (`tf.fused.matMul` with bias and ReLU)
 *   and a hand-written backward pass whose matrix products take explicitly transposed operands
 *   (`tf.matMul(tf.transpose(x), dy)`), which TF.js's wasm backend runs on XNNPACK, where autodiff's
 *   `transposeA`/`transposeB` products take a slower path; gradients are applied with the same
 *   optimizer (`applyGradients`).
 * Both compute the same gradients (bench/tfjs test checks it on a batch).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs';
 * import { useTfjsWasm } from './setup.ts';
 * import { createTfjsMlp, tfjsMlpSpec } from './mlp.ts';
 * // await useTfjsWasm();
 * // const net = createTfjsMlp(tfjsMlpSpec(await loadNetwork('examples/models/dense-mlp.json')), 'best', { seed: 1 });
 * // net.trainStep(x, labels, 64); net.predict(testX, 1000);
 */
import * as tf from '@tensorflow/tfjs';
import { keptInputsPerUnit } from '../../dsl/density.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { kwtaSizes } from '../../dsl/kwta.ts';
import type { Network } from '../../dsl/network.ts';
import { shapeSize } from '../../dsl/shape.ts';
import { Rng } from '../../runtime/rng.ts';

/** One stage of an MLP, as the TF.js side runs it. */
export type TfjsStage =
  | { readonly kind: 'dense'; readonly inputs: number; readonly units: number; readonly keep: number; readonly bias: boolean }
  | { readonly kind: 'relu' }
  | { readonly kind: 'dropout'; readonly rate: number }
  | { readonly kind: 'kwta'; readonly units: number; readonly k: number; readonly kInference: number; readonly strength: number; readonly dutyCyclePeriod: number };

/** An MLP the TF.js side can run, with the model file's optimizer settings. */
export interface TfjsMlpSpec {
  readonly name: string;
  readonly inputs: number;
  readonly classes: number;
  readonly stages: ReadonlyArray<TfjsStage>;
  readonly lr: number;
  readonly momentum: number;
}

/**
 * The TF.js form of a winnow network: vector input, then dense (optionally sparse), relu,
 * dropout and vector k-winners layers, then the softmax cross-entropy head. Anything else is a
 * one-line `WinnowError` naming the layer.
 */
export const tfjsMlpSpec = (network: Network): TfjsMlpSpec => {
  if (network.input.length !== 1) throw new WinnowError('usage', `the TF.js benchmark takes vector inputs, got [${network.input.join(', ')}]`);
  const stages: TfjsStage[] = [];
  let width = shapeSize(network.input);
  network.layers.forEach((l, i) => {
    const at = `layer ${i} (${l.kind})`;
    const last = i === network.layers.length - 1;
    switch (l.kind) {
      case 'dense':
        if (l.dropconnect > 0) throw new WinnowError('usage', `${at}: DropConnect is not in the TF.js benchmark`);
        stages.push({ kind: 'dense', inputs: width, units: l.units, keep: keptInputsPerUnit(l.weightDensity, width), bias: l.bias });
        width = l.units;
        return;
      case 'relu':
        stages.push({ kind: 'relu' });
        return;
      case 'dropout':
        stages.push({ kind: 'dropout', rate: l.rate });
        return;
      case 'kwta': {
        if (l.local || l.breakTies || l.relu) throw new WinnowError('usage', `${at}: only plain vector k-winners (no local, breakTies or relu) are in the TF.js benchmark`);
        const s = kwtaSizes(l, [width]);
        if (s._tag === 'Left') throw new WinnowError('usage', `${at}: ${s.left}`);
        stages.push({ kind: 'kwta', units: width, k: s.right.k, kInference: s.right.kInference, strength: l.boost?.strength ?? 0, dutyCyclePeriod: l.boost?.dutyCyclePeriod ?? 1000 });
        return;
      }
      case 'softmaxCrossEntropy':
        if (!last) throw new WinnowError('usage', `${at}: must be the last layer`);
        return;
      default:
        throw new WinnowError('usage', `${at}: not in the TF.js benchmark (it takes dense, relu, dropout and kwta layers)`);
    }
  });
  if (network.layers[network.layers.length - 1]?.kind !== 'softmaxCrossEntropy') throw new WinnowError('usage', 'the TF.js benchmark needs a softmaxCrossEntropy head');
  if (stages.length === 0 || stages[stages.length - 1].kind !== 'dense') throw new WinnowError('usage', 'the TF.js benchmark needs a dense layer before the head');
  const t = network.training ?? {};
  return { name: network.name ?? 'mlp', inputs: shapeSize(network.input), classes: width, stages, lr: t.lr ?? 0.01, momentum: t.momentum ?? 0 };
};

/** Which TF.js program trains the network. */
export type TfjsVariant = 'stock' | 'best';

/** A TF.js network under measurement. */
export interface TfjsMlp {
  readonly variant: TfjsVariant;
  /** One SGD step on a batch (`x`: batch x inputs normalised pixels); returns the batch's mean loss. */
  trainStep(x: Float32Array, labels: Uint8Array, batch: number): number;
  /** Logits (n x classes) at inference. */
  predict(x: Float32Array, n: number): Float32Array;
  /**
   * The gradients this variant computes for a batch, by variable name (`w0`, `b0`, `w1`, ...),
   * with the dropout seed `seed`; changes nothing (no optimizer step, duty cycles kept).
   */
  gradients(x: Float32Array, labels: Uint8Array, batch: number, seed: number): Map<string, Float32Array>;
  /** Tensors alive in TF.js (constant from step to step when nothing leaks). */
  numTensors(): number;
  dispose(): void;
}

/** Options of `createTfjsMlp`. */
export interface TfjsMlpOptions {
  /** Seeds the weights, the sparse masks and the dropout stream (default 1). */
  readonly seed?: number;
  /**
   * Start from a winnow model's weights and masks instead (a `ModelState`'s `tensors` and `masks`:
   * `l<i>.weight` as [units, fanIn], `l<i>.bias`, `l<i>.weight.mask`), so both libraries train the
   * same network from the same point.
   */
  readonly initial?: {
    readonly tensors: ReadonlyMap<string, { readonly data: ArrayLike<number> }>;
    readonly masks: ReadonlyMap<string, Uint8Array>;
  };
}

/** Networks created so far (for unique variable names). */
let networks = 0;

interface DenseVars {
  readonly w: tf.Variable<tf.Rank.R2>;
  readonly b: tf.Variable<tf.Rank.R1> | undefined;
  /** [inputs, units] 0/1 mask of a sparse layer. */
  readonly mask: tf.Tensor2D | undefined;
}

/**
 * Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)) weights (PyTorch's default range) with a sparse layer's
 * mask applied, or a winnow state's weights (transposed to [inputs, units]) and mask.
 */
const initDense = (s: Extract<TfjsStage, { kind: 'dense' }>, index: number, prefix: string, rng: Rng, initial: TfjsMlpOptions['initial']): DenseVars => {
  const bound = 1 / Math.sqrt(s.inputs);
  const w = new Float32Array(s.inputs * s.units);
  const m = s.keep < s.inputs ? new Float32Array(s.inputs * s.units) : undefined;
  let bias: Float32Array;
  if (initial) {
    const get = (name: string) => {
      const t = initial.tensors.get(name);
      if (!t) throw new WinnowError('usage', `the initial state has no ${name}`);
      return t.data;
    };
    const ww = get(`l${index}.weight`);
    const mm = initial.masks.get(`l${index}.weight`);
    for (let u = 0; u < s.units; u++) {
      for (let i = 0; i < s.inputs; i++) {
        w[i * s.units + u] = ww[u * s.inputs + i];
        if (m && mm) m[i * s.units + u] = mm[u * s.inputs + i];
      }
    }
    if (m && !mm) throw new WinnowError('usage', `the initial state has no mask for l${index}.weight`);
    bias = s.bias ? Float32Array.from(get(`l${index}.bias`)) : new Float32Array(0);
  } else {
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.float() - 1) * bound;
    if (m) for (let u = 0; u < s.units; u++) for (const i of rng.sample(s.inputs, s.keep)) m[i * s.units + u] = 1;
    bias = Float32Array.from({ length: s.bias ? s.units : 0 }, () => (2 * rng.float() - 1) * bound);
  }
  if (m) for (let i = 0; i < w.length; i++) w[i] *= m[i];
  return {
    w: tf.variable(tf.tensor2d(w, [s.inputs, s.units]), true, `${prefix}w${index}`),
    b: s.bias ? tf.variable(tf.tensor1d(bias), true, `${prefix}b${index}`) : undefined,
    mask: m ? tf.keep(tf.tensor2d(m, [s.inputs, s.units])) : undefined,
  };
};

/** What the forward pass of a training step leaves for the backward pass and the duty cycles. */
interface Trace {
  /** Input of each dense stage (by stage index). */
  readonly inputs: Map<number, tf.Tensor2D>;
  /** Output of each relu stage, dropout multiplier of each dropout stage, winner mask of each kwta stage. */
  readonly aux: Map<number, tf.Tensor2D>;
  /** Per-unit count of positive outputs of each kwta stage over the batch (kept: it outlives autodiff's tidy). */
  readonly counts: Map<number, tf.Tensor1D>;
}

/**
 * Creates the TF.js network for `spec` (call `useTfjsWasm()` first). Every tensor it holds is freed
 * by `dispose()`.
 */
export const createTfjsMlp = (spec: TfjsMlpSpec, variant: TfjsVariant, options: TfjsMlpOptions = {}): TfjsMlp => {
  const seed = options.seed ?? 1;
  const rng = Rng.fromSeed(seed, 7);
  // TF.js variable names are global: each network gets its own prefix.
  const prefix = `bench${++networks}/`;
  const dense = new Map<number, DenseVars>();
  const duty = new Map<number, tf.Variable<tf.Rank.R1>>();
  spec.stages.forEach((s, i) => {
    if (s.kind === 'dense') dense.set(i, initDense(s, i, prefix, rng, options.initial));
    if (s.kind === 'kwta') duty.set(i, tf.variable(tf.zeros([s.units]), false, `${prefix}duty${i}`));
  });
  const trainable: tf.Variable[] = [...dense.values()].flatMap((d) => (d.b ? [d.w, d.b] : [d.w]));
  const optimizer = tf.train.momentum(spec.lr, spec.momentum);
  let samplesSeen = 0;
  let step = 0;

  /** The k-winners winner mask (1 at every unit whose boosted value >= the sample's k-th largest). */
  const winnerMask = (z: tf.Tensor2D, s: Extract<TfjsStage, { kind: 'kwta' }>, k: number, dutyCycles: tf.Tensor1D): tf.Tensor2D =>
    tf.tidy(() => {
      const boosted = s.strength > 0 ? tf.mul(z, tf.exp(tf.mul(dutyCycles, -s.strength))) : z;
      // the k-th largest: the smallest of the top k (unsorted topk is cheaper than sorted)
      const kth = tf.min(tf.topk(boosted, k, false).values, 1, true);
      return tf.cast(tf.greaterEqual(boosted, kth), 'float32') as tf.Tensor2D;
    });

  /** The dropout multiplier `tf.dropout` draws with this seed: floor(u + keep) / keep. */
  const dropoutMultiplier = (shape: [number, number], rate: number, dropSeed: number): tf.Tensor2D =>
    tf.tidy(() => tf.div(tf.floor(tf.add(tf.randomUniform(shape, 0, 1, 'float32', dropSeed), 1 - rate)), 1 - rate));

  /** The per-stage dropout seed of a step. */
  const dropSeed = (stepSeed: number, stage: number): number => stepSeed * 1009 + stage;

  /**
   * Forward pass. With `trace`, training mode (dropout on, k at training) recording what the
   * hand-written backward pass needs; `stock` uses tf.dropout and a customGrad k-winners so that
   * autodiff can run through it. Returns the logits.
   */
  const forward = (x: tf.Tensor2D, training: boolean, stepSeed: number, trace: Trace | undefined, stockOps: boolean): tf.Tensor2D => {
    let h = x;
    spec.stages.forEach((s, i) => {
      switch (s.kind) {
        case 'dense': {
          const d = dense.get(i)!;
          trace?.inputs.set(i, h);
          // best: fuse the following relu into the product (one XNNPACK call)
          const next = spec.stages[i + 1];
          if (!stockOps) {
            const fuseRelu = next?.kind === 'relu';
            h = tf.fused.matMul({ a: h, b: d.w, ...(d.b ? { bias: d.b } : {}), ...(fuseRelu ? { activation: 'relu' as const } : {}) }) as tf.Tensor2D;
          } else {
            h = tf.matMul(h, d.w);
            if (d.b) h = tf.add(h, d.b);
          }
          return;
        }
        case 'relu': {
          // best: a relu right after a dense layer was fused into its product
          if (stockOps || spec.stages[i - 1]?.kind !== 'dense') h = tf.relu(h);
          trace?.aux.set(i, h);
          return;
        }
        case 'dropout': {
          if (!training) return;
          if (stockOps) {
            h = tf.dropout(h, s.rate, undefined, dropSeed(stepSeed, i)) as tf.Tensor2D;
          } else {
            const m = dropoutMultiplier(h.shape as [number, number], s.rate, dropSeed(stepSeed, i));
            trace?.aux.set(i, m);
            h = tf.mul(h, m);
          }
          return;
        }
        case 'kwta': {
          const mask = winnerMask(h, s, training ? s.k : s.kInference, duty.get(i)!);
          if (stockOps) {
            const kwta = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
              const [z, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
              save([mask]);
              return { value: tf.mul(z, mask), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]) };
            });
            h = kwta(h) as tf.Tensor2D;
          } else {
            h = tf.mul(h, mask);
            trace?.aux.set(i, mask);
          }
          if (trace) trace.counts.set(i, tf.keep(tf.sum(tf.cast(tf.greater(h, 0), 'float32'), 0)));
          return;
        }
      }
    });
    return h;
  };

  const inputTensors = (x: Float32Array, labels: Uint8Array, batch: number) => {
    if (x.length !== batch * spec.inputs) throw new WinnowError('usage', `x has ${x.length} values, expected ${batch} x ${spec.inputs}`);
    return { xt: tf.tensor2d(x, [batch, spec.inputs]), onehot: tf.oneHot(tf.tensor1d(labels, 'int32'), spec.classes) as tf.Tensor2D };
  };

  const meanLoss = (logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;

  /** Hand-written backward pass of the `best` variant: gradients by variable name. */
  const backward = (logits: tf.Tensor2D, onehot: tf.Tensor2D, batch: number, trace: Trace): Map<string, tf.Tensor> => {
    const grads = new Map<string, tf.Tensor>();
    let dy: tf.Tensor2D = tf.div(tf.sub(tf.softmax(logits), onehot), batch);
    for (let i = spec.stages.length - 1; i >= 0; i--) {
      const s = spec.stages[i];
      switch (s.kind) {
        case 'dense': {
          const d = dense.get(i)!;
          const x = trace.inputs.get(i)!;
          grads.set(d.w.name, tf.matMul(tf.transpose(x), dy));
          if (d.b) grads.set(d.b.name, tf.sum(dy, 0));
          if (i > 0) dy = tf.matMul(dy, tf.transpose(d.w));
          break;
        }
        case 'relu':
          dy = tf.mul(dy, tf.step(trace.aux.get(i)!));
          break;
        case 'dropout':
        case 'kwta':
          dy = tf.mul(dy, trace.aux.get(i)!);
          break;
      }
    }
    return grads;
  };

  const newTrace = (): Trace => ({ inputs: new Map(), aux: new Map(), counts: new Map() });
  const disposeCounts = (trace: Trace): void => {
    for (const c of trace.counts.values()) c.dispose();
  };

  /** Duty-cycle update from a training step's k-winners outputs. */
  const updateDutyCycles = (trace: Trace, batch: number): void => {
    for (const [i, counts] of trace.counts) {
      const s = spec.stages[i] as Extract<TfjsStage, { kind: 'kwta' }>;
      const dc = duty.get(i)!;
      const period = Math.min(s.dutyCyclePeriod, samplesSeen);
      tf.tidy(() => dc.assign(tf.div(tf.add(tf.mul(dc, period - batch), counts), period)));
    }
    disposeCounts(trace);
  };

  const remask = (): void => {
    for (const d of dense.values()) if (d.mask) tf.tidy(() => d.w.assign(tf.mul(d.w, d.mask!)));
  };

  /** Gradients of one batch by this variant, as tensors (caller tidies). */
  const computeGradients = (xt: tf.Tensor2D, onehot: tf.Tensor2D, batch: number, stepSeed: number, trace: Trace): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } => {
    if (variant === 'best') {
      const logits = forward(xt, true, stepSeed, trace, false);
      return { loss: meanLoss(logits, onehot), grads: backward(logits, onehot, batch, trace) };
    }
    const { value, grads } = tf.variableGrads(() => meanLoss(forward(xt, true, stepSeed, trace, true), onehot), trainable);
    return { loss: value, grads: new Map(Object.entries(grads)) };
  };

  return {
    variant,
    trainStep: (x, labels, batch) => {
      step++;
      samplesSeen += batch;
      const stepSeed = seed * 1_000_003 + step;
      const trace = newTrace();
      let loss: number;
      if (variant === 'stock') {
        // What a TF.js user writes: optimizer.minimize over the forward pass.
        loss = tf.tidy(() => {
          const { xt, onehot } = inputTensors(x, labels, batch);
          const l = optimizer.minimize(() => meanLoss(forward(xt, true, stepSeed, trace, true), onehot), true, trainable)!;
          updateDutyCycles(trace, batch);
          return l.dataSync()[0];
        });
      } else {
        loss = tf.tidy(() => {
          const { xt, onehot } = inputTensors(x, labels, batch);
          const { loss: l, grads } = computeGradients(xt, onehot, batch, stepSeed, trace);
          optimizer.applyGradients([...grads].map(([name, tensor]) => ({ name, tensor })));
          updateDutyCycles(trace, batch);
          return l.dataSync()[0];
        });
      }
      remask();
      return loss;
    },
    predict: (x, n) =>
      tf.tidy(() => {
        if (x.length !== n * spec.inputs) throw new WinnowError('usage', `x has ${x.length} values, expected ${n} x ${spec.inputs}`);
        return forward(tf.tensor2d(x, [n, spec.inputs]), false, 0, undefined, variant === 'stock').dataSync() as Float32Array;
      }),
    gradients: (x, labels, batch, gradSeed) => {
      const out = new Map<string, Float32Array>();
      tf.tidy(() => {
        const { xt, onehot } = inputTensors(x, labels, batch);
        const trace = newTrace();
        const { grads } = computeGradients(xt, onehot, batch, gradSeed, trace);
        disposeCounts(trace);
        for (const [k, g] of grads) out.set(k.slice(prefix.length), g.dataSync() as Float32Array);
      });
      return out;
    },
    numTensors: () => tf.memory().numTensors,
    dispose: () => {
      optimizer.dispose();
      for (const d of dense.values()) {
        d.w.dispose();
        d.b?.dispose();
        d.mask?.dispose();
      }
      for (const v of duty.values()) v.dispose();
    },
  };
};
