#!/usr/bin/env node
// The `winnow` command. The CLI is bundled to dist/cli.mjs by `npm install` (prepare) / `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.mjs');
if (!existsSync(cli)) {
  process.stderr.write('winnow: the CLI is not built yet; run `npm run build` (npm install does it).\n');
  process.exit(2);
}
// A closed pipe (`winnow eval ... | head`) ends the output quietly, as other CLI tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import(pathToFileURL(cli).href);
process.exitCode = await main(process.argv.slice(2));
