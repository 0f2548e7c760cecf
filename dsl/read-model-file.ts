/**
 * Reading a model file from disk (Node): the file's text, parsed as JSON and decoded by
 * `modelFromJSON` (dsl/model-file.ts, which has no file access and also runs in a browser).
 *
 * @example
 * import { readModelFile } from 'winnow/dsl';
 * const net = readModelFile('examples/models/sparse-mlp.json');
 */
import { readFileSync } from 'node:fs';
import { WinnowError } from './errors.ts';
import { modelFromJSON } from './model-file.ts';
import type { Network } from './network.ts';

/**
 * Reads and decodes a model file; a missing file, bad JSON or any invalid field throws a
 * `WinnowError('model')` naming the file and every problem.
 *
 * @example
 * import { readModelFile } from 'winnow/dsl';
 * const net = readModelFile('examples/models/sparse-mlp.json');
 */
export const readModelFile = (path: string): Network => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WinnowError('model', `${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a model file' : `cannot read (${code})`}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WinnowError('model', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return modelFromJSON(json, path);
};
