/**
 * `winnow repl`: a Node REPL (`node:repl`, top-level `await`) with winnow in scope and commands
 * that act on one current model. In scope: the DSL (`pipe`, `input`, `dense`, `sparse`, `kwta`,
 * `boost`, ..., `modelFromJSON`, `readModelFile`), the compiler (`trace`, `lower`, `compile`,
 * `summarize`), `examples` (the example networks by camelCase name), MNIST (`loadMnist`,
 * `normalizeInto`, `noisyImages`), the runtime (`train`, `evaluate`, `noiseTest`,
 * `resolveBackend`, `createModel`, `initModelState`, `loadCheckpoint`, `saveCheckpoint`,
 * `loadNetwork`, `dutyCycleEntropy`), and `session` (the current model: `session.current()`,
 * `await session.model()`), `use(network)` and the getter `net`.
 *
 * Commands and JavaScript run one after another in the order entered. A command's bad input prints
 * one line (`.set: layers[1].kwta.percentOn: must be in (0, 1), got 1.2`) and the session goes on.
 * Ctrl-C during `.train`, `.noise` or `.sweep` stops it after the current step (training keeps
 * that step's weights); elsewhere it does what it does in any Node REPL.
 *
 * @example
 * import { startRepl } from 'winnow/runtime/repl/repl';
 * const r = await startRepl({ backend: 'cpu', model: 'sparse-mlp' }); // on stdin/stdout
 * await r.closed;
 */
import repl, { type REPLServer } from 'node:repl';
import { compile, lower, summarize, trace } from '../../compiler/index.ts';
import * as dsl from '../../dsl/index.ts';
import { isWinnowError } from '../../dsl/errors.ts';
import { backendNames, createModel, resolveBackend } from '../backends.ts';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.ts';
import { dutyCycleEntropy } from '../duty-cycle-entropy.ts';
import { evaluate, noiseTest } from '../evaluate.ts';
import { loadNetwork } from '../load-model.ts';
import { loadMnist, noisyImages, normalizeInto } from '../mnist.ts';
import { initModelState } from '../model-state.ts';
import { train } from '../train.ts';
import { appendHistory, historyFile, readHistory } from './history.ts';
import { createSession, exampleModels, type Session } from './session.ts';

/** Where the REPL reads and writes, and what it starts with. */
export interface ReplOptions {
  /** Default: process.stdin / process.stdout. */
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
  /** A terminal: line editing, history keys, a live progress line (default: whether output is a TTY). */
  readonly terminal?: boolean;
  /** The history file; `null` for none; default `historyFile()` (`$WINNOW_REPL_HISTORY`, else the XDG state dir). */
  readonly history?: string | null;
  /** A backend name or `auto` (default). */
  readonly backend?: string;
  /** The seed of fresh weights, shuffles and dropout (default 1). */
  readonly seed?: number;
  /** A model to load first (as `.load` takes it). */
  readonly model?: string;
  /** ASCII-only charts (default: Unicode on a terminal, ASCII otherwise). */
  readonly ascii?: boolean;
  /** Also stop a running command on the process's SIGINT (the CLI, whose stdin may not be a terminal). */
  readonly processSigint?: boolean;
}

/** A running REPL. */
export interface WinnowRepl {
  readonly server: REPLServer;
  readonly session: Session;
  /** Resolves when everything entered so far (commands and JavaScript) has finished. */
  readonly idle: () => Promise<void>;
  /** Resolves when the REPL has closed (`.exit`, Ctrl-D, the end of its input) and what was entered before has run. */
  readonly closed: Promise<void>;
}

/** One command: its help line, and whether Ctrl-C stops it. */
interface Command {
  readonly help: string;
  readonly run: (session: Session, arg: string, signal: AbortSignal) => Promise<void>;
  readonly interruptible?: boolean;
}

const commands: Readonly<Record<string, Command>> = {
  load: { help: 'Load a model: .load <model.json | module.ts | checkpoint-dir | example name, e.g. sparse-mlp>', run: (s, a) => s.load(a) },
  save: { help: 'Save the model: .save <file.json> (model file) or .save <dir> (checkpoint with the weights)', run: (s, a) => s.save(a) },
  summary: { help: 'The layer table of winnow inspect (params, non-zero, k, boost)', run: (s, a) => s.summary(a) },
  ir: { help: 'The IR: traced and lowered stages', run: (s, a) => s.ir(a) },
  kernels: { help: 'Compiled programs and generated kernel sources with the kernel count: .kernels [--backend B] [--batch N]', run: (s, a) => s.kernels(a) },
  set: { help: 'Change a model-file field: .set <path> <value>, e.g. .set layers.1.kwta.percentOn 0.05 (revalidated; weights kept where shapes allow)', run: (s, a) => s.set(a) },
  train: { help: 'Train on MNIST: .train [epochs=1] [--limit N] [--test-limit N] (Ctrl-C stops after the current step)', run: (s, a, signal) => s.train(a, signal), interruptible: true },
  noise: { help: 'The noise test: .noise [--limit N] [--seed S] (table and noise score)', run: (s, a, signal) => s.noise(a, signal), interruptible: true },
  sweep: { help: 'One short run per value: .sweep <path> <values...> [--limit N=6000] [--test-limit N=1000] [--epochs N=1]', run: (s, a, signal) => s.sweep(a, signal), interruptible: true },
  backend: { help: 'Show or choose the backend: .backend [name]', run: (s, a) => s.setBackend(a) },
};

/** A command's error as one line: a winnow error's message, or an internal error's first line. */
const errorLine = (name: string, e: unknown): string => {
  const text = isWinnowError(e) ? e.message : `internal error (please report): ${e instanceof Error ? e.message : String(e)}`;
  return `.${name}: ${text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ')}`;
};

/** `sparse-mlp` -> `sparseMlp`. */
const camel = (name: string): string => name.replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Starts a REPL; resolves once its model (if any) is loaded and the prompt is shown. */
export const startRepl = async (options: ReplOptions = {}): Promise<WinnowRepl> => {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const terminal = options.terminal ?? (output as NodeJS.WriteStream).isTTY === true;
  const print = (text: string) => void output.write(`${text}\n`);
  const live = terminal ? { update: (line: string) => void output.write(`\r${line}\x1b[K`), clear: () => void output.write('\r\x1b[K') } : undefined;
  const session = await createSession({ print, ...(live ? { live } : {}), backend: options.backend ?? 'auto', seed: options.seed ?? 1, ascii: options.ascii ?? !terminal });
  const backend = session.backend();
  print(`winnow repl: ${backend.name} backend (${backend.why}). .help lists the commands; the DSL, examples, loadMnist, train, evaluate, noiseTest and session are in scope; await works.`);
  if (options.model !== undefined) await session.load(options.model);

  // historySize reaches readline (node's REPLServer passes it on) though @types/node leaves it out.
  const server = repl.start({ prompt: 'winnow> ', input, output, terminal, useGlobal: false, ignoreUndefined: true, ...{ historySize: 1000 } });

  // Everything entered runs in order: commands and evaluations share one queue.
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (job: () => Promise<void>) => {
    queue = queue.then(job).catch((e) => print(`internal error (please report): ${e instanceof Error ? e.message : String(e)}`));
  };
  const idle = async () => {
    for (let q = queue; ; q = queue) {
      await q;
      if (q === queue) return;
    }
  };
  // The input may end (piped input, Ctrl-D) before what it entered has run: finish that first.
  const closed = new Promise<void>((resolve) =>
    server.once('exit', () =>
      void idle().then(() => {
        session.dispose();
        resolve();
      }),
    ),
  );

  // Ctrl-C during an interruptible command stops it instead of reaching the REPL's own handler.
  let active: AbortController | undefined;
  const onSigint = () => {
    if (!active || active.signal.aborted) return;
    active.abort();
    live?.clear();
    print('interrupted: stopping after the current step');
  };
  const interruptible = (): { signal: AbortSignal; done: () => void } => {
    active = new AbortController();
    const saved = server.listeners('SIGINT') as Array<(...a: unknown[]) => void>;
    server.removeAllListeners('SIGINT');
    server.on('SIGINT', onSigint);
    if (options.processSigint) process.on('SIGINT', onSigint);
    const signal = active.signal;
    return {
      signal,
      done: () => {
        active = undefined;
        server.removeListener('SIGINT', onSigint);
        for (const l of saved) server.on('SIGINT', l);
        if (options.processSigint) process.off('SIGINT', onSigint);
      },
    };
  };

  for (const [name, command] of Object.entries(commands)) {
    server.defineCommand(name, {
      help: command.help,
      action: (arg: string) =>
        enqueue(async () => {
          const run = command.interruptible ? interruptible() : { signal: new AbortController().signal, done: () => {} };
          try {
            await command.run(session, arg, run.signal);
          } catch (e) {
            live?.clear();
            print(errorLine(name, e));
          } finally {
            run.done();
            server.displayPrompt();
          }
        }),
    });
  }

  // JavaScript joins the same queue; a winnow error thrown by it prints as one line too. The
  // REPL reports an error thrown by its eval (at once, or by an awaited promise) through its
  // domain, not through the callback: the domain's handler is wrapped so that it also ends the
  // queued evaluation.
  const oneLine = (e: Error) => `Uncaught WinnowError: ${e.message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ')}`;
  let settleEval: (() => void) | undefined;
  const domain = (server as unknown as { _domain?: NodeJS.EventEmitter })._domain;
  if (domain) {
    const original = domain.listeners('error') as Array<(e: unknown) => void>;
    domain.removeAllListeners('error');
    domain.on('error', (e: unknown) => {
      if (isWinnowError(e)) {
        print(oneLine(e));
        server.clearBufferedCommand();
        server.displayPrompt();
      } else for (const l of original) l.call(domain, e);
      settleEval?.();
    });
  }
  const defaultEval = server.eval;
  (server as { eval: REPLServer['eval'] }).eval = (code, context, file, cb) =>
    enqueue(
      () =>
        new Promise<void>((resolve) => {
          settleEval = resolve;
          defaultEval.call(server, code, context, file, (err, result) => {
            if (err && isWinnowError(err)) {
              print(oneLine(err));
              cb(null, undefined);
            } else cb(err, result);
            resolve();
          });
        }).finally(() => {
          settleEval = undefined;
        }),
    );

  const scope = (context: Record<string, unknown>) => {
    const examples: Record<string, unknown> = {};
    for (const [name, path] of exampleModels()) Object.defineProperty(examples, camel(name), { get: () => dsl.readModelFile(path), enumerable: true });
    Object.assign(context, dsl, {
      trace, lower, compile, summarize,
      loadMnist, normalizeInto, noisyImages,
      train, evaluate, noiseTest, resolveBackend, createModel, backendNames, initModelState, loadCheckpoint, saveCheckpoint, loadNetwork, dutyCycleEntropy,
      examples,
      session,
      use: (network: dsl.Network) => {
        session.use(network);
        const c = session.current()!;
        print(`using ${c.source}: ${c.network.layers.length} layers; fresh weights (seed ${session.seed()})`);
      },
    });
    Object.defineProperty(context, 'net', { get: () => session.current()?.network, enumerable: true, configurable: true });
  };
  scope(server.context);
  server.on('reset', scope);

  const file = options.history === undefined ? historyFile() : options.history ?? undefined;
  if (file !== undefined) {
    let warned = false;
    const warn = (e: unknown) => {
      if (warned) return;
      warned = true;
      print(`note: history not saved (${file}: ${(e as Error).message.split('\n')[0]})`);
    };
    try {
      (server as unknown as { history: string[] }).history = readHistory(file, 1000);
    } catch (e) {
      warn(e);
    }
    let previous: string | undefined;
    server.on('line', (line: string) => {
      if (line.trim() === '' || line === previous) return;
      previous = line;
      try {
        appendHistory(file, line);
      } catch (e) {
        warn(e);
      }
    });
  }

  return { server, session, idle, closed };
};
