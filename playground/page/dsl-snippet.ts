/**
 * DSL snippets in the playground: a network written with winnow's combinators, evaluated with
 * only the DSL in scope, and turned into a model file's JSON so that it goes through exactly the
 * same validation as a file (the model codec, with its path-level messages).
 *
 * A snippet is an expression (`pipe(input([784]), dense(10), softmaxCrossEntropy)`), or statements
 * whose last one gives the network (`const net = pipe(...); net`), or that `return` it or
 * `export default` it. `import ... from '...'` lines at the top are
 * dropped, so a network module from the README pastes as it is. Every failure is one line.
 *
 * This is not a sandbox: the page runs snippets in a Web Worker (no DOM, stopped when it runs too
 * long; see dsl-worker.ts), evaluates them as strict-mode functions whose parameters are the DSL
 * and shadow the usual globals (`window`, `fetch`, `postMessage`, ...), and refuses `import()`.
 * It keeps honest mistakes contained; the code is the user's own, run in their own page.
 *
 * @example
 * import { evaluateSnippet } from './dsl-snippet.ts';
 * const json = evaluateSnippet('pipe(input([784]), dense(64), kwta({ percentOn: 0.1 }), dense(10), softmaxCrossEntropy)');
 * json.layers[1]; // { kwta: { percentOn: 0.1, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false } }
 */
import { pipe } from 'fp-ts/lib/function.js';
import { batchNorm } from '../../dsl/batch-norm.ts';
import { boost } from '../../dsl/boost.ts';
import { conv2d } from '../../dsl/conv2d.ts';
import { dense } from '../../dsl/dense.ts';
import { dropconnect } from '../../dsl/dropconnect.ts';
import { dropout } from '../../dsl/dropout.ts';
import { isWinnowError, WinnowError } from '../../dsl/errors.ts';
import { flatten } from '../../dsl/flatten.ts';
import { kwta } from '../../dsl/kwta.ts';
import { maxPool2d } from '../../dsl/max-pool2d.ts';
import { modelToJSON, type ModelJSON } from '../../dsl/model-file.ts';
import { input, named, withTraining, type Network } from '../../dsl/network.ts';
import { relu } from '../../dsl/relu.ts';
import { softmaxCrossEntropy } from '../../dsl/softmax-cross-entropy.ts';
import { sparse } from '../../dsl/sparse.ts';

/** What a snippet can use: the DSL's combinators, and nothing else of winnow. */
const scope: Readonly<Record<string, unknown>> = {
  pipe, input, dense, conv2d, maxPool2d, flatten, relu, batchNorm, kwta, boost, sparse, dropout, dropconnect, softmaxCrossEntropy, named, withTraining,
};

/** Globals a snippet sees as `undefined` (parameters shadow them). `eval` cannot be a strict-mode parameter name. */
const shadowed = [
  'window', 'self', 'globalThis', 'global', 'document', 'navigator', 'location', 'fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource',
  'Worker', 'SharedWorker', 'importScripts', 'postMessage', 'close', 'localStorage', 'sessionStorage', 'indexedDB', 'caches',
  'setTimeout', 'setInterval', 'queueMicrotask', 'requestAnimationFrame', 'Function', 'process', 'require', 'module',
];

/** The DSL names a snippet can use, for the page's help text. */
export const snippetNames: ReadonlyArray<string> = Object.keys(scope);

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

const isNetwork = (v: unknown): v is Network =>
  typeof v === 'object' && v !== null && (v as { _tag?: unknown })._tag === 'Network' && Array.isArray((v as Network).layers);

const describe = (v: unknown): string =>
  typeof v === 'function'
    ? 'a function (a layer on its own? start with pipe(input([784]), ...))'
    : v === undefined
      ? 'nothing (end with the network, or return it, or export default it)'
      : v === null
        ? 'null'
        : Array.isArray(v)
          ? 'a list'
          : typeof v === 'object'
            ? 'an object'
            : `a ${typeof v}`;

/** The snippet without `import` declarations (the DSL is in scope already). */
const withoutImports = (source: string): string => source.replace(/^\s*import\s+(?:type\s+)?[\s\S]*?\bfrom\s*(['"])[^'"\n]*\1\s*;?/gm, '');

const names = [...Object.keys(scope), ...shadowed];
const values = [...Object.values(scope), ...shadowed.map(() => undefined)];

/**
 * Runs the snippet as a script in the DSL's scope (a direct `eval` inside a strict function whose
 * parameters are the DSL and the shadowed globals): its value is the completion value of its last
 * statement, so `pipe(...);` with a comment after it, or `const net = ...; net`, both work.
 */
const asScript = (code: string): unknown =>
  (new Function(...names, '__snippet', '"use strict";\nreturn eval(__snippet);') as (...args: unknown[]) => unknown)(...values, code.replace(/\bexport\s+default\b/g, ''));

/** Runs the snippet as a function body (for snippets that `return` their network). */
const asFunctionBody = (code: string): unknown =>
  (new Function(...names, `"use strict";\n${code.replace(/\bexport\s+default\b/g, 'return')}`) as (...args: unknown[]) => unknown)(...values);

/** The snippet's value: as a script, or as a function body when it has a top-level `return`. */
const run = (code: string): unknown => {
  try {
    return asScript(code);
  } catch (e) {
    if (e instanceof SyntaxError && /\breturn\b/.test(e.message)) return asFunctionBody(code);
    throw e;
  }
};

/**
 * Evaluates a DSL snippet and returns its network as a model file's JSON (`modelToJSON`).
 *
 * @throws WinnowError('model') with one line: a syntax error, an error the DSL raised (shape
 *   mismatches name the layer), any other exception's message, or a value that is not a network.
 *
 * @example
 * import { evaluateSnippet } from './dsl-snippet.ts';
 * evaluateSnippet('pipe(input([784]), dense(10), softmaxCrossEntropy)').layers.length; // 2
 * // evaluateSnippet('pipe(input([784]), boost({}))') throws "layer 0 (boost): ..."
 */
export const evaluateSnippet = (source: string): ModelJSON => {
  if (source.trim() === '') throw new WinnowError('model', 'the snippet is empty: write a network, e.g. pipe(input([784]), dense(10), softmaxCrossEntropy)');
  if (/\bimport\s*\(/.test(source)) throw new WinnowError('model', 'import() is not available in a snippet: only the DSL is in scope');
  let value: unknown;
  try {
    value = run(withoutImports(source));
  } catch (e) {
    throw new WinnowError('model', e instanceof SyntaxError ? `syntax error: ${oneLine(e)}` : isWinnowError(e) ? oneLine(e) : `${e instanceof Error ? `${e.name}: ` : ''}${oneLine(e)}`);
  }
  if (!isNetwork(value)) throw new WinnowError('model', `the snippet gives ${describe(value)}, not a network`);
  return modelToJSON(value);
};
