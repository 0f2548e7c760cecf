/**
 * `npm run bench`: winnow's backends against TensorFlow.js 4.22 (wasm backend, stock and at its
 * best) on the MLP 784-1000-1000-10 (dense, dropout 0.5, sparse), on real MNIST batches.
 *
 * Each contender runs each model in its own worker process (bench/worker.ts), so peak memory is
 * per contender and model. All workers are started and warmed up first (as many at a time as
 * there are cores; nothing is timed yet); then the timed training
 * runs are taken round-robin (run 1 of every worker, then run 2, ...), then the timed inference
 * runs, so a change of load on a shared machine hits every contender alike. Reported speeds are
 * medians over the runs.
 *
 * Usage (after bench/run.mjs has bundled this file):
 *   node bench/run.mjs [--quick] [--repetitions N] [--contenders a,b] [--models a,b] [--out FILE] [--json] [--readme]
 *   node bench/run.mjs readme [--from FILE]     (README table from results.json; measures nothing)
 *
 * @example
 * import { main } from './compare.ts';
 * // process.exitCode = await main(['--quick', '--contenders', 'cpu,tfjs-best'], { root, worker });
 */
import { fork, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { benchModels, contenderIds, contenders, modelIds, planFor, type ContenderId, type ModelId } from './catalog.ts';
import type { FromWorker, Job, ToWorker } from './protocol.ts';
import { evaluateTargets, formatResults, median, readmeSection, replaceReadmeSection, type BenchResults, type Measurement } from './report.ts';

/** A usage error: one line, exit code 2. */
class UsageError extends Error {}

/** Where things are. */
export interface BenchPaths {
  /** The repository root (model files and README.md are relative to it). */
  readonly root: string;
  /** The bundled worker script. */
  readonly worker: string;
}

interface Options {
  readonly quick: boolean;
  /** Overrides every plan's repetitions. */
  readonly repetitions: number | undefined;
  readonly contenders: ReadonlyArray<ContenderId>;
  readonly models: ReadonlyArray<ModelId>;
  readonly out: string | undefined;
  readonly json: boolean;
  readonly readme: boolean;
}

const list = <T extends string>(flag: string, value: string, known: ReadonlyArray<T>): T[] => {
  const items = value.split(',').map((s) => s.trim());
  const bad = items.find((s) => !(known as ReadonlyArray<string>).includes(s));
  if (bad !== undefined) throw new UsageError(`${flag} must be a comma-separated list of ${known.join(', ')}, got ${JSON.stringify(bad)}`);
  if (new Set(items).size !== items.length) throw new UsageError(`${flag} names something twice: ${JSON.stringify(value)}`);
  return items as T[];
};

const parse = (argv: ReadonlyArray<string>, root: string): Options => {
  let quick = false;
  let json = false;
  let readme = false;
  let repetitions: number | undefined;
  let cs: ContenderId[] = [...contenderIds];
  let ms: ModelId[] = [...modelIds];
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--json') json = true;
    else if (a === '--readme') readme = true;
    else if (a === '--repetitions') {
      const v = value();
      if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--repetitions must be a positive integer, got ${JSON.stringify(v)}`);
      repetitions = Number(v);
    } else if (a === '--contenders') cs = list(a, value(), contenderIds);
    else if (a === '--models') ms = list(a, value(), modelIds);
    else if (a === '--out') out = resolve(value());
    else throw new UsageError(`unknown argument ${JSON.stringify(a)} (known: --quick, --repetitions N, --contenders, --models, --out FILE, --json, --readme; or: readme [--from FILE])`);
  }
  // A quick run is a smoke test: it writes results.json only when asked to.
  if (out === undefined && !quick) out = join(root, 'bench', 'results.json');
  if (readme && quick) throw new UsageError('--readme takes a full run, not --quick');
  return { quick, json, readme, repetitions, contenders: cs, models: ms, out };
};

/** How long a worker may take to start or to answer one request before it is given up. */
const workerTimeoutMs = 15 * 60_000;

/** A running worker and its pending answer. */
class Worker {
  private readonly child: ChildProcess;
  private waiting: ((m: FromWorker) => void) | undefined;
  private readonly inbox: FromWorker[] = [];
  private stderr = '';
  private exited = false;

  constructor(script: string, job: Job, cwd: string) {
    this.child = fork(script, [JSON.stringify(job)], { cwd, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child.on('message', (m: FromWorker) => this.deliver(m));
    // A failed spawn or a send to a worker that has gone: answered as an error, never thrown.
    this.child.on('error', (e) => this.deliver({ type: 'error', message: `worker: ${e.message}` }));
    this.child.on('close', (code, signal) => {
      this.exited = true;
      const last = this.stderr.trim().split('\n').filter(Boolean).pop();
      this.deliver({ type: 'error', message: `worker exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}` });
    });
  }

  private deliver(m: FromWorker): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(m);
    } else this.inbox.push(m);
  }

  /** The next message from the worker; an error (and the worker killed) after `timeoutMs`. */
  next(timeoutMs = workerTimeoutMs): Promise<FromWorker> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((res) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.kill();
        res({ type: 'error', message: `no answer within ${timeoutMs / 1000} s` });
      }, timeoutMs);
      this.waiting = (m) => {
        clearTimeout(timer);
        res(m);
      };
    });
  }

  /** Sends a request and waits for its answer; an error answer throws. */
  async ask<T extends FromWorker['type']>(request: ToWorker, expect: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.exited) throw new Error('worker has exited');
    this.child.send(request);
    const m = await this.next();
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== expect) throw new Error(`worker answered ${m.type} to ${request.type}`);
    return m as Extract<FromWorker, { type: T }>;
  }

  kill(): void {
    if (!this.exited) this.child.kill();
  }
}

interface Slot {
  readonly contender: ContenderId;
  readonly model: ModelId;
  readonly job: Job;
  worker?: Worker;
  ready?: Extract<FromWorker, { type: 'ready' }>;
  error?: string;
  readonly trainRuns: number[];
  readonly inferRuns: number[];
  lastLoss: number;
  peakRssBytes?: number;
}

/** Runs the measurements; `log` gets one line per finished stage. */
const measure = async (o: Options, paths: BenchPaths, log: (s: string) => void): Promise<BenchResults> => {
  const started = performance.now();
  const batch = 64;
  const inferenceBatch = 1000;
  const slots: Slot[] = o.models.flatMap((m) =>
    o.contenders.map((c): Slot => ({
      contender: c,
      model: m,
      job: { contender: c, model: benchModels.find((x) => x.id === m)!.file, batch, inferenceBatch, plan: planFor(c, o.quick, o.repetitions) },
      trainRuns: [],
      inferRuns: [],
      lastLoss: NaN,
    })),
  );
  const live = () => slots.filter((s) => s.error === undefined);
  const failed = (s: Slot, e: unknown) => {
    s.error = (e as Error).message;
    s.worker?.kill();
    log(`${s.contender} on ${s.model}: ${s.error}`);
  };
  try {
    // Start and warm up the workers, as many at a time as there are cores (start-up is not timed).
    const start = async (s: Slot): Promise<void> => {
      try {
        s.worker = new Worker(paths.worker, s.job, paths.root);
        const m = await s.worker.next();
        if (m.type === 'error') throw new Error(m.message);
        if (m.type !== 'ready') throw new Error(`worker said ${m.type} before ready`);
        s.ready = m;
        log(`${s.contender} on ${s.model}: ready (${m.setupSeconds.toFixed(1)} s)`);
      } catch (e) {
        failed(s, e);
      }
    };
    const pending = [...slots];
    await Promise.all(
      Array.from({ length: Math.min(availableParallelism(), pending.length) }, async () => {
        for (let s = pending.shift(); s; s = pending.shift()) await start(s);
      }),
    );
    const rounds = Math.max(0, ...slots.map((s) => s.job.plan.repetitions));
    for (let r = 0; r < rounds; r++) {
      for (const s of live().filter((x) => r < x.job.plan.repetitions)) {
        try {
          const m = await s.worker!.ask({ type: 'train' }, 'train');
          s.trainRuns.push((s.job.plan.steps * batch) / m.seconds);
          s.lastLoss = m.loss;
        } catch (e) {
          failed(s, e);
        }
      }
      log(`training round ${r + 1} of ${rounds} done`);
    }
    for (let r = 0; r < rounds; r++) {
      for (const s of live().filter((x) => r < x.job.plan.repetitions)) {
        try {
          const m = await s.worker!.ask({ type: 'infer' }, 'infer');
          s.inferRuns.push((s.job.plan.inferenceCalls * inferenceBatch) / m.seconds);
        } catch (e) {
          failed(s, e);
        }
      }
      log(`inference round ${r + 1} of ${rounds} done`);
    }
    for (const s of live()) {
      try {
        s.peakRssBytes = (await s.worker!.ask({ type: 'finish' }, 'finished')).peakRssBytes;
      } catch (e) {
        failed(s, e);
      }
    }
  } finally {
    for (const s of slots) s.worker?.kill();
  }
  const results: Measurement[] = slots.map((s) =>
    s.error !== undefined
      ? { contender: s.contender, model: s.model, error: s.error }
      : {
          contender: s.contender,
          model: s.model,
          plan: s.job.plan,
          train: { batch, calls: s.job.plan.steps, samplesPerSecond: median(s.trainRuns), runs: s.trainRuns },
          inference: { batch: inferenceBatch, calls: s.job.plan.inferenceCalls, samplesPerSecond: median(s.inferRuns), runs: s.inferRuns },
          peakRssBytes: s.peakRssBytes!,
          setupSeconds: s.ready!.setupSeconds,
          lastLoss: s.lastLoss,
          info: s.ready!.info,
        },
  );
  const tfInfo = slots.find((s) => s.ready?.info.library === 'tfjs')?.ready?.info;
  return {
    schema: 'winnow.bench/2',
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    quick: o.quick,
    batch,
    inferenceBatch,
    ...(tfInfo ? { tfjs: { version: String(tfInfo.version), backend: String(tfInfo.backend), threads: Number(tfInfo.threads), simd: tfInfo.simd === true } } : {}),
    models: benchModels.filter((m) => o.models.includes(m.id)),
    contenders: contenders.filter((c) => o.contenders.includes(c.id)),
    results,
    targets: evaluateTargets(results, o.models),
    seconds: (performance.now() - started) / 1000,
  };
};

/** Writes `text` to `file` atomically. */
const writeAtomic = (file: string, text: string): void => {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
};

/** Regenerates the README's bench section from a results file. */
const updateReadme = (root: string, results: BenchResults): void => {
  const file = join(root, 'README.md');
  writeAtomic(file, replaceReadmeSection(readFileSync(file, 'utf8'), readmeSection(results)));
};

/** Reads a results file, or says clearly why it cannot. */
const readResults = (file: string): BenchResults => {
  if (!existsSync(file)) throw new UsageError(`${file}: no such file (run \`npm run bench\` first)`);
  let r: BenchResults;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  } catch (e) {
    throw new UsageError(`${file}: not JSON: ${(e as Error).message}`);
  }
  if (r.schema !== 'winnow.bench/2') throw new UsageError(`${file}: schema must be "winnow.bench/2", got ${JSON.stringify(r.schema)} (re-run \`npm run bench\`)`);
  return r;
};

/** The command: measures (or, with `readme`, only rewrites the README); returns the exit code. */
export const main = async (
  argv: ReadonlyArray<string>,
  paths: BenchPaths,
  out: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
  err: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<number> => {
  try {
    if (argv[0] === 'readme') {
      const rest = argv.slice(1);
      if (rest.length !== 0 && !(rest.length === 2 && rest[0] === '--from')) throw new UsageError('usage: readme [--from FILE]');
      const file = rest.length ? resolve(rest[1]) : join(paths.root, 'bench', 'results.json');
      updateReadme(paths.root, readResults(file));
      out(`README.md: bench section regenerated from ${file}`);
      return 0;
    }
    const o = parse(argv, paths.root);
    if (o.out !== undefined) {
      try {
        if (!statSync(dirname(o.out)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        accessSync(dirname(o.out), constants.W_OK);
        if (existsSync(o.out) && statSync(o.out).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      } catch (e) {
        throw new UsageError(`--out ${o.out}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    const results = await measure(o, paths, err);
    if (o.out !== undefined) writeAtomic(o.out, `${JSON.stringify(results, null, 2)}\n`);
    if (o.readme) updateReadme(paths.root, results);
    out(o.json ? JSON.stringify(results, null, 2) : formatResults(results));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`bench: ${e.message}`);
      return 2;
    }
    throw e;
  }
};
