#!/usr/bin/env node
// Bundles the CLI (TypeScript sources) into dist/cli.mjs with esbuild, so `winnow` starts fast
// and needs no TypeScript loader at run time, the library entry points for Node (dist/dsl.mjs,
// dist/compiler.mjs) and the browser bundle (dist/browser.mjs). Runs on `npm install` (prepare)
// and `npm run build`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { browserBundle } from './browser-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // gpu.js and esbuild are loaded from node_modules at run time (native parts, optional backends).
  external: ['gpu.js', 'esbuild', 'webgpu', 'gl', 'wabt'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};

await Promise.all([
  build(browserBundle(root, join(root, 'dist', 'browser.mjs'))),
  build({ ...common, entryPoints: [join(root, 'runtime', 'cli', 'main.ts')], outfile: join(root, 'dist', 'cli.mjs') }),
  // The library entry points, for `import ... from 'winnow/dsl'` (etc.) in plain Node.
  build({ ...common, entryPoints: [join(root, 'dsl', 'index.ts')], outfile: join(root, 'dist', 'dsl.mjs') }),
  build({ ...common, entryPoints: [join(root, 'compiler', 'index.ts')], outfile: join(root, 'dist', 'compiler.mjs') }),
]);
