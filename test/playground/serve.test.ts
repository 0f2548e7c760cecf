/**
 * The playground's static server (`npm run playground`): files under its folder with their
 * content types, nothing outside it, 404 for what is missing, one-line refusal of a busy port;
 * and the CLI's argument errors (one line, exit code 2).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../playground/cli.ts';
import { servePlayground, type PlaygroundServer } from '../../playground/serve.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A raw GET (fetch would normalise `..` away before sending it). */
const get = (url: string, path: string, method = 'GET'): Promise<{ status: number; type?: string; body: string }> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers['content-type'] ? { type: res.headers['content-type'] } : {}), body }));
    });
    req.on('error', reject);
    req.end();
  });

describe('the playground server', () => {
  let dir = '';
  let server: PlaygroundServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winnow-serve-'));
    mkdirSync(join(dir, 'site'));
    writeFileSync(join(dir, 'site', 'index.html'), '<!doctype html>hello');
    writeFileSync(join(dir, 'site', 'playground.js'), 'export {};');
    writeFileSync(join(dir, 'site', 'mnist-subset.bin.gz'), 'bytes');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    server = await servePlayground(join(dir, 'site'), { port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the folder with content types, index.html for /, and HEAD', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await get(server.url, '/')).toEqual({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html>hello' });
    expect(await get(server.url, '/playground.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get(server.url, '/mnist-subset.bin.gz')).toMatchObject({ status: 200, type: 'application/octet-stream', body: 'bytes' });
    expect(await get(server.url, '/playground.js', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  it('answers 404 for missing files, 403 outside the folder, 405 for other methods', async () => {
    expect((await get(server.url, '/nope.js')).status).toBe(404);
    // URL parsing resolves dot segments first (this is /secret.txt inside the folder: missing)...
    expect((await get(server.url, '/../secret.txt')).status).toBe(404);
    // ...but an encoded slash only becomes one after decoding: the path check catches it
    expect((await get(server.url, '/..%2fsecret.txt')).status).toBe(403);
    expect((await get(server.url, '/%2e%2e%2fsecret.txt')).status).toBe(403);
    expect((await get(server.url, '/', 'POST')).status).toBe(405);
  });

  it('a busy port is one line naming it', async () => {
    const port = Number(new URL(server.url).port);
    await expect(servePlayground(join(dir, 'site'), { port })).rejects.toThrow(`port ${port} on 127.0.0.1 is in use: pass another with --port`);
  });
});

describe('the playground CLI', () => {
  const run = async (argv: string[]) => {
    const lines: string[] = [];
    const code = await main(argv, { root, out: (s) => lines.push(s), err: (s) => lines.push(s) });
    return { code, lines };
  };

  it('bad arguments print one line and exit 2, before building anything', async () => {
    expect(await run([])).toEqual({ code: 2, lines: ['playground: usage: playground build [--out DIR] [--train N] [--test N] | playground serve [--port N] [--host H] [--out DIR] [--train N] [--test N]'] });
    expect(await run(['build', '--train', 'many'])).toEqual({ code: 2, lines: ['playground: --train must be a non-negative integer, got "many"'] });
    expect(await run(['build', '--port', '80'])).toEqual({ code: 2, lines: ['playground: --port and --host are for serve'] });
    const unknown = await run(['serve', '--colour', 'red']);
    expect(unknown.code).toBe(2);
    expect(unknown.lines).toHaveLength(1);
    expect(unknown.lines[0]).toMatch(/^playground: Unknown option '--colour'/);
    expect(await run(['build', '--train', '0', '--out', join(tmpdir(), 'winnow-never-built')])).toEqual({ code: 2, lines: ['playground: training images must be an integer from 1 to 60000, got 0'] });
  });
});
