/**
 * A small, fast, seedable random number generator (xoshiro128**) whose whole state is four
 * uint32 words, so it can be saved in a checkpoint and restored bit-exactly.
 *
 * Every source of randomness in winnow (weight init, sparse masks, shuffling, dropout, noise)
 * draws from an `Rng` derived from the run's seed, so a seed reproduces a run exactly.
 *
 * @example
 * import { Rng } from 'winnow/runtime/rng';
 * const rng = Rng.fromSeed(42);
 * const x = rng.float();            // in [0, 1)
 * const state = rng.state();        // save ...
 * const again = Rng.fromState(state); // ... and restore: again.float() === rng.float()
 */
export class Rng {
  private constructor(private s0: number, private s1: number, private s2: number, private s3: number) {}

  /** A generator seeded from an integer seed and an optional stream number (independent streams). */
  static fromSeed(seed: number, stream = 0): Rng {
    // splitmix32 expands (seed, stream) into a non-zero 128-bit state.
    let x = (Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const r = new Rng(next(), next(), next(), next());
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    return r;
  }

  /** Restores a generator from `state()`. */
  static fromState(state: ReadonlyArray<number>): Rng {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError('rng state must be four uint32 words');
    }
    return new Rng(state[0], state[1], state[2], state[3]);
  }

  /** The generator's state: four uint32 words. */
  state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** A copy that continues the same sequence independently. */
  clone(): Rng {
    return new Rng(this.s0, this.s1, this.s2, this.s3);
  }

  /** The next uint32. */
  uint32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = rotl(n3, 11);
    this.s0 = n0 >>> 0; this.s1 = n1 >>> 0; this.s2 = n2 >>> 0; this.s3 = n3 >>> 0;
    return r;
  }

  /** A float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An integer in [0, n), unbiased. */
  int(n: number): number {
    if (!(n > 0) || n > 0x100000000) throw new RangeError(`rng.int: n must be in (0, 2^32], got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const v = this.uint32();
      if (v < limit) return v % n;
    }
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** `k` distinct integers from [0, n), in random order (partial Fisher-Yates over a scratch array). */
  sample(n: number, k: number, scratch?: Int32Array): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`rng.sample: need 0 <= k <= n, got k=${k}, n=${n}`);
    const idx = scratch && scratch.length >= n ? scratch : new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    return idx.slice(0, k);
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
