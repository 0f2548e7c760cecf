/**
 * Worker threads for the `cpu` backend: a pool of `node:worker_threads` workers that share the
 * model's WebAssembly memory and run slices of the same generated kernels as the main thread.
 *
 * Every worker instantiates each program's compiled WebAssembly module on the shared memory and
 * builds its kernels from the same generated source (`compiler/codegen/js/program.ts`), so a
 * kernel `kN(M, lo, hi)` means the same thing on every thread. The main thread drives. For a split
 * kernel it cuts the kernel's range into chunks (a few per thread, at multiples of the kernel's
 * grain), writes the task and the chunk bounds into a small control block (a SharedArrayBuffer of
 * Int32 words) and opens a counter of chunks left; every thread, the main thread included, claims
 * chunks with compare-and-swap until none is left, and the main thread waits until every chunk is
 * done. A chunk always computes whole outputs, so which thread runs it changes nothing in the
 * result, and a worker that is slow to wake (a busy machine) just gets fewer chunks.
 *
 * Waiting spins briefly on `Atomics.load` and then sleeps in `Atomics.wait`, so while the threads
 * are hot a kernel costs a microsecond or two of synchronisation, and idle workers cost nothing.
 * No message is posted per kernel; messages carry only new programs, which workers take with
 * `receiveMessageOnPort` (they never return to their event loop while serving).
 *
 * A kernel that throws in a worker is reported through the control block (its message in a small
 * shared text buffer) and becomes a `WinnowError('backend')` on the main thread; so does a worker
 * that dies, or a chunk that does not finish within a generous time, instead of a hang. Workers
 * are unref'd (they never keep the process alive), and `dispose` ends them.
 *
 * `node:worker_threads` and `node:os` are imported dynamically, only when more than one thread is
 * asked for, so the cpu backend still loads where they (or SharedArrayBuffer) do not exist, such as
 * a browser, and runs on one thread there.
 */
import { WinnowError } from '../../dsl/errors.ts';

/** Control block layout (Int32 words). */
const GEN = 0; // bumped by the main thread to wake the workers for a task
const CMD = 1; // the current task: RUN, LOAD or EXIT
const REMAINING = 2; // chunks of the current kernel not yet claimed (claimed from the top down)
const COMPLETED = 3; // chunks of the current kernel done
const CHUNKS = 4;
const PROGRAM = 5; // the program and kernel of the current RUN
const KERNEL = 6;
const LOAD_ID = 7; // the program of the current LOAD
const LOADED = 8; // workers that have loaded it
const ACTIVE = 9; // 1 while the main thread is running a program: idle workers spin instead of sleeping
const ERROR = 10; // 0, or the number of the first worker that failed (1, 2, ...)
const PAGES = 11; // the memory's size in 64 KiB pages (workers refresh their view when it changes)
const WORKER_CHUNKS = 12; // chunks run by workers, ever (statistics)
const BOUNDS = 13; // chunk c is [BOUNDS + c, BOUNDS + c + 1)
const RUN = 1;
const LOAD = 2;
const EXIT = 3;
const errorBytes = 1024;

/** Chunks per thread of a split kernel: more balance the load (and tolerate a thread the OS is not running), fewer cost less. */
const chunksPerThread = 4;
/** The most threads the default picks: beyond this, a training step's kernels are too small to share. */
const maxAutoThreads = 8;
/** The most threads anyone may ask for. */
const maxThreads = 64;

/**
 * The worker's program (plain JavaScript, run with `eval: true`, written by this module only): it
 * serves tasks from the control block until told to exit.
 */
const workerSource = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { control, errors, memory, number, spin } = workerData;
const ctrl = new Int32Array(control);
const errorText = new Uint8Array(errors);
const programs = new Map();
let M = new Float32Array(memory.buffer);
let loaded = 0;
let seen = Atomics.load(ctrl, ${GEN});
const fail = (e) => {
  if (Atomics.compareExchange(ctrl, ${ERROR}, 0, number) !== 0) return;
  const text = new TextEncoder().encode(String(e && e.message ? e.message : e).split('\\n')[0].slice(0, 300));
  errorText.set(text.subarray(0, errorText.length - 1));
  errorText[Math.min(text.length, errorText.length - 1)] = 0;
};
const load = () => {
  const id = Atomics.load(ctrl, ${LOAD_ID});
  if (id <= loaded) return;
  try {
    let m;
    for (let tries = 0; (m = receiveMessageOnPort(parentPort)) === undefined; tries++) {
      if (tries > 5000) throw new Error('program ' + id + ' did not arrive');
      Atomics.wait(ctrl, ${CMD}, ${LOAD}, 1);
    }
    const { source, module } = m.message;
    if (m.message.id !== id) throw new Error('expected program ' + id + ', got ' + m.message.id);
    const W = module ? new WebAssembly.Instance(module, { env: { mem: memory } }).exports : {};
    programs.set(id, new Function('return (' + source + ');')()(undefined, W));
  } catch (e) {
    fail(e);
  }
  loaded = id;
  Atomics.add(ctrl, ${LOADED}, 1);
  Atomics.notify(ctrl, ${LOADED});
};
const work = () => {
  for (;;) {
    const left = Atomics.load(ctrl, ${REMAINING});
    if (left <= 0) return;
    if (Atomics.compareExchange(ctrl, ${REMAINING}, left, left - 1) !== left) continue;
    // A claimed chunk keeps its kernel current until it is done, so the task words are stable now.
    const c = left - 1;
    try {
      if (M.length * 4 !== Atomics.load(ctrl, ${PAGES}) * 65536) M = new Float32Array(memory.buffer);
      const kernel = programs.get(Atomics.load(ctrl, ${PROGRAM}))[Atomics.load(ctrl, ${KERNEL})];
      kernel(M, Atomics.load(ctrl, ${BOUNDS} + c), Atomics.load(ctrl, ${BOUNDS} + c + 1));
    } catch (e) {
      fail(e);
    }
    Atomics.add(ctrl, ${WORKER_CHUNKS}, 1);
    if (Atomics.add(ctrl, ${COMPLETED}, 1) + 1 === Atomics.load(ctrl, ${CHUNKS})) Atomics.notify(ctrl, ${COMPLETED});
  }
};
parentPort.postMessage('ready');
for (;;) {
  let g;
  let spins = 0;
  while ((g = Atomics.load(ctrl, ${GEN})) === seen && Atomics.load(ctrl, ${REMAINING}) <= 0) {
    if (Atomics.load(ctrl, ${ACTIVE}) === 0 || ++spins > spin) {
      Atomics.wait(ctrl, ${GEN}, seen);
      spins = 0;
    }
  }
  seen = g;
  const cmd = Atomics.load(ctrl, ${CMD});
  if (cmd === ${EXIT}) break;
  if (cmd === ${LOAD}) load();
  else work();
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
   * Runs kernel `kernel` of program `program` over [0, extent), in chunks cut at multiples of
   * `grain`, on every thread: the main thread runs its chunks with `run(lo, hi)` (its own copy of
   * the kernel). Returns when every chunk is done; `name` names the kernel in errors.
   */
  readonly split: (program: number, kernel: number, extent: number, grain: number, run: (lo: number, hi: number) => void, name: string) => void;
  /** Kernels split so far, their chunks, and how many of those the workers ran. */
  readonly stats: () => ThreadStats;
  /** Ends the workers; the pool is unusable after. */
  readonly dispose: () => void;
}

/** What a pool has done. */
export interface ThreadStats {
  readonly kernels: number;
  readonly chunks: number;
  readonly workerChunks: number;
}

/** The `k`-th of `parts` split points of [0, extent), at multiples of `grain` (0 and extent at the ends). */
export const splitPoint = (extent: number, grain: number, parts: number, k: number): number =>
  k >= parts ? extent : Math.min(extent, Math.round((extent * k) / parts / grain) * grain);

/** How many chunks a kernel of `extent` units (cut at multiples of `grain`) gets on `threads` threads. */
export const chunkCount = (extent: number, grain: number, threads: number): number => Math.max(1, Math.min(Math.ceil(extent / grain), threads * chunksPerThread));

/**
 * The number of threads for a cpu model: `requested` (a positive integer) when given, else the
 * environment variable WINNOW_THREADS, else the machine's available parallelism up to
 * `maxAutoThreads`. Throws a one-line WinnowError naming the option or variable when it is not an
 * integer from 1 to 64.
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

let loadedModule: Promise<typeof import('node:worker_threads') | undefined> | undefined;
const workerThreads = () =>
  (loadedModule ??= (async () => {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object' || typeof process !== 'object' || !process.versions?.node) return undefined;
    try {
      return await import('node:worker_threads');
    } catch {
      return undefined;
    }
  })());

/** Options of `startPool`. */
export interface PoolOptions {
  /** Atomics.load iterations a waiting thread spins before it sleeps (default 8000: some tens of microseconds). */
  readonly spin?: number;
  /** The least time a split kernel may wait for a chunk a worker claimed before the pool gives up on it, in ms (default 60000). */
  readonly patienceMs?: number;
  /** The main thread claims no chunks and only waits, so the workers run every chunk (for tests). */
  readonly workersOnly?: boolean;
}

/**
 * Starts `threads - 1` workers on `memory` (a shared WebAssembly.Memory). Resolves to undefined
 * where worker threads are not available (the caller runs on one thread); rejects with a
 * WinnowError when they are but do not start.
 */
export const startPool = async (threads: number, memory: WebAssembly.Memory, options: PoolOptions = {}): Promise<ThreadPool | undefined> => {
  const wt = threads < 2 ? undefined : await workerThreads();
  if (!wt) return undefined;
  const spin = options.spin ?? 8000;
  const patienceMs = options.patienceMs ?? 60000;
  const workers = threads - 1;
  const maxChunks = threads * chunksPerThread;
  const control = new SharedArrayBuffer(4 * (BOUNDS + maxChunks + 1));
  const errors = new SharedArrayBuffer(errorBytes);
  const ctrl = new Int32Array(control);
  ctrl[PAGES] = memory.buffer.byteLength / 65536;
  let broken: string | undefined;
  const pool: import('node:worker_threads').Worker[] = [];
  const started = Array.from({ length: workers }, (_, index) => {
    const w = new wt.Worker(workerSource, { eval: true, workerData: { control, errors, memory, number: index + 1, spin } });
    pool.push(w);
    w.unref();
    w.on('error', (e) => (broken ??= `cpu worker thread ${index + 1} failed: ${oneLine(e)}`));
    w.on('exit', (code) => (broken ??= `cpu worker thread ${index + 1} exited (code ${code})`));
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
  const wake = (cmd: number) => {
    Atomics.store(ctrl, CMD, cmd);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
  };
  /** Waits until `ctrl[word]` reaches `target`; `what` names the task in errors. */
  const waitFor = (word: number, target: number, what: string) => {
    let spins = 0;
    let now: number;
    let since = 0;
    while ((now = Atomics.load(ctrl, word)) < target) {
      if (++spins < spin) continue;
      since ||= performance.now();
      Atomics.wait(ctrl, word, now, 20);
      if (performance.now() - since > patienceMs) {
        broken ??= `a cpu worker thread did not finish ${what} within ${Math.round(patienceMs / 100) / 10} s (it may have died)`;
        check();
      }
    }
    const failed = Atomics.load(ctrl, ERROR);
    if (failed !== 0) {
      const bytes = new Uint8Array(errors);
      const end = bytes.indexOf(0);
      broken ??= `cpu worker thread ${failed} failed in ${what}: ${new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end))}`;
      check();
    }
  };
  const writePages = () => Atomics.store(ctrl, PAGES, memory.buffer.byteLength / 65536);

  let programs = 0;
  let kernels = 0;
  let chunkTotal = 0;
  return {
    threads,
    load: (source, module) => {
      check();
      const id = ++programs;
      for (const w of pool) w.postMessage({ id, source, module });
      Atomics.store(ctrl, LOAD_ID, id);
      Atomics.store(ctrl, LOADED, 0);
      writePages();
      wake(LOAD);
      waitFor(LOADED, workers, `loading program ${id}`);
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
      const chunks = chunkCount(extent, grain, threads);
      Atomics.store(ctrl, PROGRAM, program);
      Atomics.store(ctrl, KERNEL, kernel);
      for (let c = 0; c <= chunks; c++) Atomics.store(ctrl, BOUNDS + c, splitPoint(extent, grain, chunks, c));
      Atomics.store(ctrl, CHUNKS, chunks);
      Atomics.store(ctrl, COMPLETED, 0);
      Atomics.store(ctrl, CMD, RUN);
      Atomics.store(ctrl, REMAINING, chunks); // claims open
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      kernels++;
      chunkTotal += chunks;
      let failure: unknown;
      while (!options.workersOnly) {
        const left = Atomics.load(ctrl, REMAINING);
        if (left <= 0) break;
        if (Atomics.compareExchange(ctrl, REMAINING, left, left - 1) !== left) continue;
        try {
          run(ctrl[BOUNDS + left - 1], ctrl[BOUNDS + left]);
        } catch (e) {
          failure ??= e;
        }
        Atomics.add(ctrl, COMPLETED, 1);
      }
      waitFor(COMPLETED, chunks, `kernel ${name}`);
      if (failure !== undefined) throw failure;
    },
    stats: () => ({ kernels, chunks: chunkTotal, workerChunks: Atomics.load(ctrl, WORKER_CHUNKS) }),
    dispose: () => {
      broken ??= 'the cpu model was disposed';
      Atomics.store(ctrl, REMAINING, 0);
      wake(EXIT);
      for (const w of pool) void w.terminate();
    },
  };
};

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
