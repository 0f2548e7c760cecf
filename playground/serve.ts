/**
 * A small static file server for the built playground (`npm run playground`), on node:http: GET
 * and HEAD of files under one folder, with the content types the page needs, nothing cached,
 * and no path outside the folder. It listens on 127.0.0.1 by default: `localhost` is a secure
 * context, which WebGPU requires.
 *
 * @example
 * import { servePlayground } from './serve.ts';
 * // const server = await servePlayground('dist/playground', { port: 8080 });
 * // console.log(server.url); // http://127.0.0.1:8080/
 * // await server.close();
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { WinnowError } from '../dsl/errors.ts';

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gz': 'application/octet-stream', // fetched as bytes and gunzipped by the page, not by the browser
};

/** A running server. */
export interface PlaygroundServer {
  readonly url: string;
  readonly close: () => Promise<void>;
}

/** Serves `dir` on `host:port` (port 0: any free port). */
export const servePlayground = (dir: string, options: { readonly port?: number; readonly host?: string } = {}): Promise<PlaygroundServer> => {
  const base = resolve(dir);
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return void res.writeHead(400).end();
    }
    const file = resolve(join(base, path.endsWith('/') ? `${path}index.html` : path));
    if (file !== base && !file.startsWith(base + sep)) return void res.writeHead(403).end();
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return void res.writeHead(404).end();
      size = st.size;
    } catch {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new WinnowError('usage', `port ${options.port} on ${host} is in use: pass another with --port`) : e),
    );
    server.listen(options.port ?? 8080, host, () => {
      const { port } = server.address() as { port: number };
      resolveServer({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
};
