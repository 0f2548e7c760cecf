#!/usr/bin/env node
// `npm run bench`: winnow's backends against TensorFlow.js (bench/compare.ts). Bundles the bench's
// TypeScript (bench/compare.ts and the worker each contender runs in) into dist/bench/run-PID/ with
// esbuild, then runs it. Arguments pass through: `npm run bench -- --quick`,
// `npm run bench -- --contenders cpu,tfjs-best --models dense`, `npm run bench:readme`.
// `winnow bench` (the CLI) still compares winnow's own backends on one model.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// One folder per run (inside the repository, so the bundles find node_modules), so that two runs
// at once (a test and a bench) never read each other's half-written files.
const outdir = join(root, 'dist', 'bench', `run-${process.pid}`);
await build({
  entryPoints: { compare: join(root, 'bench', 'compare.ts'), worker: join(root, 'bench', 'worker.ts') },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // Loaded from node_modules at run time: TF.js (and its .wasm files), and what the CLI bundle keeps out too.
  external: ['@tensorflow/*', 'gpu.js', 'esbuild', 'webgpu', 'gl', 'wabt'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
try {
  const { main } = await import(pathToFileURL(join(outdir, 'compare.mjs')).href);
  process.exitCode = await main(process.argv.slice(2), { root, worker: join(outdir, 'worker.mjs') });
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
