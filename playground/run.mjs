#!/usr/bin/env node
// `npm run playground` (serve) and `npm run build:playground` (build): bundles playground/cli.ts
// (TypeScript) with esbuild into dist/playground-tool/cli-PID.mjs, imports it, removes the file
// (the module is loaded) and runs it. Arguments pass through: `npm run playground -- --port 9000`.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// inside the repository, so that the bundle finds esbuild in node_modules
const outfile = join(root, 'dist', 'playground-tool', `cli-${process.pid}.mjs`);
await build({
  entryPoints: [join(root, 'playground', 'cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  external: ['esbuild'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
let main;
try {
  ({ main } = await import(pathToFileURL(outfile).href));
} finally {
  rmSync(outfile, { force: true });
}
process.exitCode = await main(process.argv.slice(2), { root });
