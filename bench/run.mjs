#!/usr/bin/env node
// `npm run bench`: the built CLI's `winnow bench`, writing bench/results.json next to this file.
// Extra arguments pass through (e.g. `npm run bench -- --backend cpu`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'cli.mjs');
if (!existsSync(cli)) {
  process.stderr.write('bench: the CLI is not built yet; run `npm run build`.\n');
  process.exit(2);
}
const { main } = await import(pathToFileURL(cli).href);
process.exitCode = await main(['bench', '--out', join(here, 'results.json'), ...process.argv.slice(2)]);
