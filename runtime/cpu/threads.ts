/**
 * Worker threads for the `cpu` backend: a pool of `node:worker_threads` workers that share the
 * model's WebAssembly memory and run slices of the same generated kernels as the main thread.
 *
 * Every worker instantiates each program's compiled WebAssembly module on the shared memory and
 * builds its kernels from the same generated source (`compiler/codegen/js/program.ts`), so a
 * kernel `kN(M, lo, hi)` means the same thing on every thread. The main thread drives: for a split
 * kernel it writes the task and every thread's range into a small control block (a
 * SharedArrayBuffer of Int32 words), bumps a generation counter, runs its own range (part 0), and
 * waits for the workers' done counter. Waiting spins briefly and then sleeps in `Atomics.wait`, so
 * a kernel costs a microsecond or two of synchronisation while the threads are hot, and idle
 * workers cost nothing. No message is posted per kernel; messages carry only new programs.
 *
 * A kernel that throws in a worker is reported through the control block (its message in a small
 * shared text buffer) and becomes a `WinnowError('backend')` on the main thread; a worker that
 * dies, or does not finish within a generous time, does too, instead of a hang. Workers are
 * unref'd (they never keep the process alive) and `dispose` ends them.
 *
 * `node:worker_threads` and `node:os` are imported dynamically, and only when more than one thread
 * is asked for, so the cpu backend still loads where they (or SharedArrayBuffer) do not exist and
 * runs on one thread there.
 */
import { WinnowError } from '../../dsl/errors.ts';

/** Control block layout (Int32 words). */
const GEN = 0; // bumped by the main thread for each task
const DONE = 1; // workers that finished the current task
const CMD = 2; // the task: RUN, LOAD or EXIT
const PROGRAM = 3;
const KERNEL = 4;
const ACTIVE = 5; // 1 while the main thread is running a program: idle workers spin instead of sleeping
const ERROR = 6; // 0, or 1 + the index of the first worker that failed
const PAGES = 7; // the memory's size in 64 KiB pages (workers refresh their view when it changes)
const RANGES = 8; // [lo, hi) per thread, main thread first
const RUN = 1;
const LOAD = 2;
const EXIT = 3;
const errorBytes = 1024;

/** The most threads `threads: 'auto'` picks: beyond this, a training step's kernels are too small to share. */
export const maxAutoThreads = 8;
/** The most threads anyone may ask for. */
const maxThreads = 64;

/**
 * The worker's program (plain JavaScript, run with `eval: true`): it takes tasks from the control
 * block until told to exit. It never returns to its event loop while serving, so programs arrive
 * with `receiveMessageOnPort`.
 */
const workerSource = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { control, errors, memory, index, spin } = workerData;
const ctrl = new Int32Array(control);
const errorText = new Uint8Array(errors);
const programs = new Map();
let M = new Float32Array(memory.buffer);
let seen = Atomics.load(ctrl, ${GEN});
const fail = (e) => {
  if (Atomics.compareExchange(ctrl, ${ERROR}, 0, index + 1) !== 0) return;
  const text = new TextEncoder().encode(String(e && e.message ? e.message : e).split('\\n')[0].slice(0, 300));
  errorText.set(text.subarray(0, errorText.length - 1));
  errorText[Math.min(text.length, errorText.length - 1)] = 0;
};
parentPort.postMessage('ready');
for (;;) {
  let g;
  let spins = 0;
  while ((g = Atomics.load(ctrl, ${GEN})) === seen) {
    if (Atomics.load(ctrl, ${ACTIVE}) === 0 || ++spins > spin) {
      Atomics.wait(ctrl, ${GEN}, seen);
      spins = 0;
    }
  }
  seen = g;
  const cmd = Atomics.load(ctrl, ${CMD});
  if (cmd === ${EXIT}) break;
  try {
    if (cmd === ${LOAD}) {
      const id = Atomics.load(ctrl, ${PROGRAM});
      let m;
      for (let tries = 0; (m = receiveMessageOnPort(parentPort)) === undefined; tries++) {
        if (tries > 1000) throw new Error('program ' + id + ' did not arrive');
        Atomics.wait(ctrl, ${CMD}, cmd, 1);
      }
      const { source, module } = m.message;
      if (m.message.id !== id) throw new Error('expected program ' + id + ', got ' + m.message.id);
      const W = module ? new WebAssembly.Instance(module, { env: { mem: memory } }).exports : {};
      programs.set(id, new Function('return (' + source + ');')()(undefined, W));
    } else {
      if (M.length * 4 !== Atomics.load(ctrl, ${PAGES}) * 65536) M = new Float32Array(memory.buffer);
      const kernel = programs.get(Atomics.load(ctrl, ${PROGRAM}))[Atomics.load(ctrl, ${KERNEL})];
      const at = ${RANGES} + 2 * (index + 1);
      kernel(M, Atomics.load(ctrl, at), Atomics.load(ctrl, at + 1));
    }
  } catch (e) {
    fail(e);
  }
  if (Atomics.add(ctrl, ${DONE}, 1) + 1 === workerData.workers) Atomics.notify(ctrl, ${DONE});
}
`;

/** A pool of worker threads sharing one WebAssembly memory with the main thread. */
export interface ThreadPool {
  /** Threads taking part in a split kernel, the main thread included. */
  readonly threads: number;
  /** Sends a program to every worker: its generated source and its products' module (compiled for a shared memory). Returns its id. */
  readonly load: (source: string, module: WebAssembly.Module | undefined) => number;
  /** The start and end of a program run: workers spin between the kernels of a run and sleep outside runs. */
  readonly begin: () => void;
  readonly end: () => void;
  /**
   * Runs kernel `kernel` of program `program` split over `threads` ranges of [0, extent) cut at
   * multiples of `grain`: the main thread runs the first with `run(lo, hi)` (its own copy of the
   * kernel), the workers the others. Returns when every range is done.
   */
  readonly split: (program: number, kernel: number, extent: number, grain: number, run: (lo: number, hi: number) => void, name: string) => void;
  /** Ends the workers; the pool is unusable after. */
  readonly dispose: () => void;
}

/** The `k`-th of `parts` split points of [0, extent), at multiples of `grain` (0 and extent at the ends). */
export const splitPoint = (extent: number, grain: number, parts: number, k: number): number =>
  k >= parts ? extent : Math.min(extent, Math.round((extent * k) / parts / grain) * grain);

/**
 * The number of threads for a cpu model: `requested` (a positive integer) when given, else the
 * environment variable WINNOW_THREADS, else the machine's available parallelism up to
 * `maxAutoThreads`. Throws a one-line WinnowError naming the option or variable when it is not a
 * positive integer.
 */
export const resolveThreads = async (requested: number | undefined): Promise<number> => {
  const check = (n: number, what: string) => {
    if (!Number.isInteger(n) || n < 1 || n > maxThreads) throw new WinnowError('usage', `${what} must be an integer from 1 to ${maxThreads}`);
    return n;
  };
  if (requested !== undefined) return check(requested, `threads (got ${String(requested)})`);
  const env = typeof process === 'object' ? process.env?.WINNOW_THREADS : undefined;
  if (env !== undefined && env.trim() !== '') return check(/^\s*\d+\s*$/.test(env) ? Number(env) : NaN, `WINNOW_THREADS (got ${JSON.stringify(env.slice(0, 20))})`);
  try {
    const os = await import('node:os');
    return Math.max(1, Math.min(maxAutoThreads, os.availableParallelism?.() ?? os.cpus().length));
  } catch {
    return 1;
  }
};

/** Whether worker threads can run here: Node's worker_threads, SharedArrayBuffer and Atomics. */
export const threadsSupported = async (): Promise<boolean> => (await workerThreads()) !== undefined;

let loaded: Promise<typeof import('node:worker_threads') | undefined> | undefined;
const workerThreads = () =>
  (loaded ??= (async () => {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object' || typeof process !== 'object' || !process.versions?.node) return undefined;
    try {
      return await import('node:worker_threads');
    } catch {
      return undefined;
    }
  })());

/** Options of `startPool`. */
export interface PoolOptions {
  /** Atomics.load iterations a waiting thread spins before it sleeps (default 20000, some tens of microseconds). */
  readonly spin?: number;
  /** The least time a split kernel may wait for the workers before the pool gives up on them, in ms (default 60000). */
  readonly patienceMs?: number;
}

/**
 * Starts `threads - 1` workers on `memory` (a shared WebAssembly.Memory). Resolves to undefined
 * where worker threads are not available (the caller runs on one thread).
 */
export const startPool = async (threads: number, memory: WebAssembly.Memory, options: PoolOptions = {}): Promise<ThreadPool | undefined> => {
  const wt = threads < 2 ? undefined : await workerThreads();
  if (!wt) return undefined;
  const spin = options.spin ?? 20000;
  const patienceMs = options.patienceMs ?? 60000;
  const workers = threads - 1;
  const control = new SharedArrayBuffer(4 * (RANGES + 2 * threads));
  const errors = new SharedArrayBuffer(errorBytes);
  const ctrl = new Int32Array(control);
  ctrl[PAGES] = memory.buffer.byteLength / 65536;
  let broken: string | undefined;
  const pool: import('node:worker_threads').Worker[] = [];
  const started = Array.from({ length: workers }, (_, index) => {
    const w = new wt.Worker(workerSource, { eval: true, workerData: { control, errors, memory, index, spin, workers } });
    pool.push(w);
    w.unref();
    w.on('error', (e) => (broken ??= `a cpu worker thread failed: ${oneLine(e)}`));
    w.on('exit', (code) => (broken ??= `a cpu worker thread exited (code ${code})`));
    return new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`exited with code ${code} while starting`)));
    });
  });
  try {
    await Promise.all(started);
  } catch (e) {
    for (const w of pool) void w.terminate();
    throw new WinnowError('backend', `the cpu backend could not start its worker threads: ${oneLine(e)} (set WINNOW_THREADS=1 to run on one thread)`);
  }

  const check = () => {
    if (broken !== undefined) throw new WinnowError('backend', `${broken} (set WINNOW_THREADS=1 to run on one thread)`);
  };
  /** Hands the current task to every worker (the task words are written) and returns. */
  const dispatch = (cmd: number) => {
    Atomics.store(ctrl, CMD, cmd);
    Atomics.store(ctrl, DONE, 0);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
  };
  /** Waits until every worker is done with the current task; `what` names it in errors. */
  const join = (what: string, mainMs: number) => {
    let spins = 0;
    let done: number;
    const since = performance.now();
    const limit = Math.max(patienceMs, 200 * mainMs);
    while ((done = Atomics.load(ctrl, DONE)) < workers) {
      if (++spins < spin) continue;
      Atomics.wait(ctrl, DONE, done, 20);
      if (performance.now() - since > limit) {
        broken ??= `a cpu worker thread did not finish ${what} within ${Math.round(limit / 100) / 10} s (it may have died)`;
        check();
      }
    }
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) {
      const bytes = new Uint8Array(errors);
      const end = bytes.indexOf(0);
      const message = new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end));
      broken ??= `cpu worker thread ${failed} failed in ${what}: ${message}`;
      check();
    }
  };
  const writePages = () => Atomics.store(ctrl, PAGES, memory.buffer.byteLength / 65536);

  let programs = 0;
  return {
    threads,
    load: (source, module) => {
      check();
      const id = ++programs;
      for (const w of pool) w.postMessage({ id, source, module });
      Atomics.store(ctrl, PROGRAM, id);
      writePages();
      dispatch(LOAD);
      join(`loading program ${id}`, 0);
      return id;
    },
    begin: () => {
      check();
      writePages();
      Atomics.store(ctrl, ACTIVE, 1);
      Atomics.notify(ctrl, GEN); // wake sleeping workers early: they spin until the first split kernel
    },
    end: () => Atomics.store(ctrl, ACTIVE, 0),
    split: (program, kernel, extent, grain, run, name) => {
      check();
      Atomics.store(ctrl, PROGRAM, program);
      Atomics.store(ctrl, KERNEL, kernel);
      for (let t = 0; t < threads; t++) {
        Atomics.store(ctrl, RANGES + 2 * t, splitPoint(extent, grain, threads, t));
        Atomics.store(ctrl, RANGES + 2 * t + 1, splitPoint(extent, grain, threads, t + 1));
      }
      dispatch(RUN);
      const t0 = performance.now();
      let failure: unknown;
      try {
        run(ctrl[RANGES], ctrl[RANGES + 1]);
      } catch (e) {
        failure = e;
      }
      join(`kernel ${name}`, performance.now() - t0);
      if (failure !== undefined) throw failure;
    },
    dispose: () => {
      broken ??= 'the cpu model was disposed';
      Atomics.store(ctrl, CMD, EXIT);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      for (const w of pool) void w.terminate();
    },
  };
};

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
