/**
 * Loads a network from a model file (`.json`), from a module (`.ts`, `.mts`, `.js`, `.mjs`)
 * whose default export is a network built with the DSL, or from a checkpoint directory (the
 * model it was trained with). Modules are bundled with esbuild (so
 * TypeScript works without a loader) and imported; what they export is re-validated through the
 * model codec, so a hand-made object cannot slip past the DSL's rules.
 *
 * @example
 * import { loadNetwork } from 'winnow/runtime/load-model';
 * const net = await loadNetwork('examples/models/sparse-mlp.json');
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isWinnowError, WinnowError } from '../dsl/errors.ts';
import { modelFromJSON, modelToJSON } from '../dsl/model-file.ts';
import { readModelFile } from '../dsl/read-model-file.ts';
import { loadCheckpoint } from './checkpoint/checkpoint.ts';
import { isCheckpointDir } from './checkpoint/store.ts';
import type { Network } from '../dsl/network.ts';

const moduleExtensions = new Set(['.ts', '.mts', '.js', '.mjs']);

/** The package root (where winnow's own sources live), for resolving `winnow/...` in modules. */
const packageRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'dsl'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
};

/** Loads and validates a network from a model file or module path. */
export const loadNetwork = async (path: string): Promise<Network> => {
  const ext = extname(path).toLowerCase();
  if (!existsSync(path)) throw new WinnowError('model', `${path}: no such file`);
  if (statSync(path).isDirectory()) {
    if (isCheckpointDir(path)) return loadCheckpoint(path).network;
    throw new WinnowError('model', `${path}: is a directory without a checkpoint, not a model file`);
  }
  if (ext === '.json') return readModelFile(path);
  if (!moduleExtensions.has(ext)) {
    throw new WinnowError('model', `${path}: expected a .json model file or a .ts/.js module, got a ${ext || 'file without extension'}`);
  }
  const { build } = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'winnow-model-'));
  const out = join(dir, 'model.mjs');
  try {
    const root = packageRoot();
    try {
      await build({
        entryPoints: [resolve(path)],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'esm',
        logLevel: 'silent',
        // `winnow/dsl` in a model module resolves to this package's sources.
        alias: { 'winnow/dsl': join(root, 'dsl', 'index.ts'), 'winnow/compiler': join(root, 'compiler', 'index.ts') },
        nodePaths: [join(root, 'node_modules')],
      });
    } catch (e) {
      const errors = (e as { errors?: Array<{ text: string; location?: { line: number; column: number } | null }> }).errors ?? [];
      const first = errors[0];
      const where = first?.location ? `:${first.location.line}:${first.location.column}` : '';
      throw new WinnowError('model', `${path}${where}: cannot compile module: ${first?.text ?? (e as Error).message}`);
    }
    let mod: { default?: unknown };
    try {
      mod = await import(pathToFileURL(out).href);
    } catch (e) {
      if (isWinnowError(e)) throw new WinnowError('model', `${path}: ${e.message}`);
      throw new WinnowError('model', `${path}: the module threw while loading: ${(e as Error).message}`);
    }
    const net = mod.default as Network | undefined;
    if (typeof net !== 'object' || net === null || (net as { _tag?: unknown })._tag !== 'Network') {
      throw new WinnowError('model', `${path}: the default export must be a network built with winnow's DSL (pipe(input(...), ...))`);
    }
    return modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(net))), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
