/**
 * The Web Worker that evaluates DSL snippets for the page (bundled on its own as dsl-worker.js):
 * a snippet runs away from the DOM, and the page can stop a snippet that never finishes by
 * terminating the worker (dsl-client.ts). Messages: `{ id, source }` in; `{ id, json }` (a model
 * file's JSON) or `{ id, error }` (one line) out.
 *
 * @example
 * // const worker = new Worker('dsl-worker.js');
 * // worker.postMessage({ id: 1, source: 'pipe(input([784]), dense(10), softmaxCrossEntropy)' });
 */
import { evaluateSnippet } from './dsl-snippet.ts';

/** A request from the page. */
export interface SnippetRequest {
  readonly id: number;
  readonly source: string;
}

/** The worker's answer. */
export type SnippetAnswer = { readonly id: number; readonly json: unknown } | { readonly id: number; readonly error: string };

const worker = globalThis as unknown as { onmessage: ((e: MessageEvent<SnippetRequest>) => void) | null; postMessage: (m: SnippetAnswer) => void };
const post = worker.postMessage.bind(globalThis); // the snippet's `postMessage` is shadowed, not this one

worker.onmessage = (e) => {
  const { id, source } = e.data;
  try {
    post({ id, json: evaluateSnippet(source) });
  } catch (err) {
    post({ id, error: (err instanceof Error ? err.message : String(err)).split('\n')[0] });
  }
};
