/**
 * The page's side of DSL snippet evaluation: sends a snippet to the worker (dsl-worker.ts) and
 * resolves with the model file's JSON or a one-line error. A snippet that has not answered within
 * `timeoutMs` (an endless loop) gets its worker terminated and replaced, and an error saying so.
 * Only the latest request matters: an older one still running is abandoned (its worker is
 * replaced), so typing never queues evaluations.
 *
 * @example
 * import { createSnippetEvaluator } from './dsl-client.ts';
 * const evaluate = createSnippetEvaluator('dsl-worker.js');
 * // const r = await evaluate('pipe(input([784]), dense(10), softmaxCrossEntropy)'); // { json } or { error }
 */
import type { SnippetAnswer } from './dsl-worker.ts';

/** What an evaluation gives: the network as a model file's JSON, or why not (one line). */
export type SnippetResult = { readonly json: unknown } | { readonly error: string };

/** Evaluates snippets in a worker made from `workerUrl`. */
export const createSnippetEvaluator = (workerUrl: string, timeoutMs = 3000): ((source: string) => Promise<SnippetResult>) => {
  let worker: Worker | undefined;
  let nextId = 1;
  let pending: { id: number; resolve: (r: SnippetResult) => void; timer: ReturnType<typeof setTimeout> } | undefined;

  const start = (): Worker => {
    const w = new Worker(workerUrl); // a classic worker: dsl-worker.js is bundled as an IIFE
    w.onmessage = (e: MessageEvent<SnippetAnswer>) => {
      if (!pending || e.data.id !== pending.id) return;
      const { resolve, timer } = pending;
      pending = undefined;
      clearTimeout(timer);
      resolve('json' in e.data ? { json: e.data.json } : { error: e.data.error });
    };
    w.onerror = (e) => {
      e.preventDefault();
      if (!pending) return;
      const { resolve, timer } = pending;
      pending = undefined;
      clearTimeout(timer);
      resolve({ error: `the snippet worker failed: ${e.message}` });
    };
    return w;
  };

  const restart = () => {
    worker?.terminate();
    worker = undefined;
  };

  return (source) =>
    new Promise<SnippetResult>((resolve) => {
      if (pending) {
        // the previous snippet is still running: drop it, and its worker with it
        const old = pending;
        pending = undefined;
        clearTimeout(old.timer);
        old.resolve({ error: 'replaced by a newer edit' });
        restart();
      }
      worker ??= start();
      const id = nextId++;
      const timer = setTimeout(() => {
        if (pending?.id !== id) return;
        pending = undefined;
        restart();
        resolve({ error: `the snippet did not finish within ${timeoutMs / 1000} s (an endless loop?); it was stopped` });
      }, timeoutMs);
      pending = { id, resolve, timer };
      worker.postMessage({ id, source });
    });
};
