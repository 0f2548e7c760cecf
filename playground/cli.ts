/**
 * `npm run build:playground` and `npm run playground` (through playground/run.mjs, which bundles
 * this file): `build` writes the page to dist/playground/ (or `--out DIR`); `serve` builds it and
 * serves it on http://127.0.0.1:8080/ (`--port N`, `--host H`) until interrupted, printing the
 * URL. Bad arguments print one line and exit with code 2.
 *
 * @example
 * // node playground/run.mjs build --out /tmp/playground --train 3000
 * // node playground/run.mjs serve --port 9000
 */
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { isWinnowError, WinnowError } from '../dsl/errors.ts';
import { buildPlayground } from './build.ts';
import { servePlayground } from './serve.ts';

const usage = 'usage: playground build [--out DIR] [--train N] [--test N] | playground serve [--port N] [--host H] [--out DIR] [--train N] [--test N]';

const integer = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v)) throw new WinnowError('usage', `--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return v;
};

/** Runs a command; resolves with the exit code (`serve` resolves only when interrupted). */
export const main = async (argv: ReadonlyArray<string>, env: { readonly root: string; readonly out?: (s: string) => void; readonly err?: (s: string) => void }): Promise<number> => {
  const out = env.out ?? ((s: string) => process.stdout.write(`${s}\n`));
  const err = env.err ?? ((s: string) => process.stderr.write(`${s}\n`));
  try {
    const [command, ...rest] = argv;
    if (command !== 'build' && command !== 'serve') throw new WinnowError('usage', usage);
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: { out: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' } }, strict: true });
    } catch (e) {
      throw new WinnowError('usage', `${(e as Error).message.split('\n')[0]} (${usage})`);
    }
    const { values } = parsed;
    if (command === 'build' && (values.port !== undefined || values.host !== undefined)) throw new WinnowError('usage', '--port and --host are for serve');
    const outDir = values.out ?? join(env.root, 'dist', 'playground');
    const trainImages = integer('train', values.train);
    const testImages = integer('test', values.test);
    const port = integer('port', values.port);
    const started = performance.now();
    const built = await buildPlayground({ root: env.root, outDir, ...(trainImages !== undefined ? { trainImages } : {}), ...(testImages !== undefined ? { testImages } : {}) });
    const size = built.files.reduce((a, f) => a + f.bytes, 0);
    const shown = relative(process.cwd(), outDir);
    out(`built the playground in ${shown === '' ? '.' : shown.startsWith('..') ? outDir : shown}/ (${built.files.length} files, ${(size / 1e6).toFixed(1)} MB, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    if (command === 'build') return 0;
    const server = await servePlayground(outDir, { ...(port !== undefined ? { port } : {}), ...(values.host !== undefined ? { host: values.host } : {}) });
    out(`serving the playground at ${server.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  } catch (e) {
    if (!isWinnowError(e)) throw e;
    err(`playground: ${e.message.split('\n')[0]}`);
    return 2;
  }
};
