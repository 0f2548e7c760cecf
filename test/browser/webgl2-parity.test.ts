/**
 * `winnow/browser` in a real browser: Debian's Chromium (headless, through playwright-core), whose
 * WebGL2 is SwiftShader, loads the browser bundle (built here from the current sources with the
 * same esbuild options as dist/browser.mjs) from a local HTTP server, and runs every example
 * network on `gpujs:webgl2`, and on `cpu` (generated JavaScript and WebAssembly, no worker
 * threads in a page): a forward pass, then one full training step and the end of an epoch, from
 * the same initial state and the same batch as the float64 reference run here in Node. Logits,
 * loss, every updated tensor and every momentum buffer must agree within 1e-4 relative error, the
 * parity suite's rule (test/parity), and the page must really have run WebGL2 kernels: the model
 * says `gpujs:webgl2`, every compiled program's kernels are gpu.js WebGL2 kernels (gpu.js swaps a
 * kernel it cannot build for a CPU one with only a console warning) and no such warning appeared.
 *
 * The batch is 4, not the parity suite's 8: SwiftShader ran a 4320-input dense layer at about
 * 10 MFLOP/s on this project's shared 2-core machine, and the file should stay near a minute.
 *
 * Skipped, with one line saying so, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { browserBundle } from '../../runtime/bin/browser-bundle.mjs';
import { createModel, type Model } from '../../runtime/backends.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, relError } from '../parity/helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chromiumPath = '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? undefined : `${chromiumPath} is not installed (apt-get install chromium)`;

const models = readdirSync(join(root, 'examples', 'models'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();

const batch = 4;
const set = loadMnist('train', { limit: batch });
const x = normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784));
const labels = set.labels.slice(0, batch);
const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 };
const seed = { rng: 3, stream: 2 };

/** A forward pass, then one training step and the end of an epoch: what both sides run. */
const step = async (model: Model) => {
  try {
    const logits = Float64Array.from(await model.predict(x, batch));
    const r = await model.trainStep(x, labels, batch, sgd, batch, Rng.fromSeed(seed.rng, seed.stream));
    await model.endEpoch();
    await model.sync?.();
    return { logits, loss: r.loss, state: model.state };
  } finally {
    model.dispose?.();
  }
};

/** Where one array lies in a binary payload (elements of the payload's float type). */
interface Slot {
  readonly kind: 'tensor' | 'mask' | 'momentum' | 'x' | 'labels' | 'logits';
  readonly name: string;
  readonly shape?: ReadonlyArray<number>;
  readonly offset: number;
  readonly length: number;
}

type Named = { kind: Slot['kind']; name: string; shape?: ReadonlyArray<number>; data: ArrayLike<number> };

/** Arrays as one float32 or float64 buffer, and the slots to find them in it. */
const pack = (arrays: ReadonlyArray<Named>, type: Float32ArrayConstructor | Float64ArrayConstructor) => {
  const slots: Slot[] = [];
  let offset = 0;
  for (const a of arrays) {
    slots.push({ kind: a.kind, name: a.name, ...(a.shape ? { shape: a.shape } : {}), offset, length: a.data.length });
    offset += a.data.length;
  }
  const data = new type(offset);
  arrays.forEach((a, i) => data.set(a.data, slots[i].offset));
  return { slots, bytes: Buffer.from(data.buffer) };
};

/** The initial state (float32, as the float64 one rounds to) and the batch, for the page. */
const inputsOf = (state: ModelState) =>
  pack(
    [
      ...[...state.tensors].map(([name, t]) => ({ kind: 'tensor' as const, name, shape: t.shape, data: t.data })),
      ...[...state.masks].map(([name, m]) => ({ kind: 'mask' as const, name, data: m })),
      ...[...state.momentum].map(([name, m]) => ({ kind: 'momentum' as const, name, data: m })),
      { kind: 'x', name: 'x', data: x },
      { kind: 'labels', name: 'labels', data: labels },
    ],
    Float32Array,
  );

/** The oracle's logits, updated tensors and momentum buffers (float64), for the page to compare with. */
const expectedOf = (oracle: { logits: Float64Array; state: ModelState }) =>
  pack(
    [
      { kind: 'logits', name: 'logits', data: oracle.logits },
      ...[...oracle.state.tensors].map(([name, t]) => ({ kind: 'tensor' as const, name, data: t.data })),
      ...[...oracle.state.momentum].map(([name, m]) => ({ kind: 'momentum' as const, name, data: m })),
    ],
    Float64Array,
  );

/** What the page answers. */
interface PageResult {
  readonly backend: string;
  readonly mode?: string;
  readonly programs?: ReadonlyArray<{ program: string; executor: string; kernels: number; kernelModes: ReadonlyArray<string> }>;
  readonly irText: string;
  readonly loss: number;
  readonly nonFinite?: string;
  /** `relError(page's value, oracle's value)` of each expected array (null: the page has no such array). */
  readonly errors: ReadonlyArray<{ kind: Slot['kind']; name: string; error: number | null }>;
}

/** What the page runs, besides the network's model file. */
interface PageTask {
  readonly name: string;
  readonly json: unknown;
  readonly backend: string;
  readonly inputs: ReadonlyArray<Slot>;
  readonly expected: ReadonlyArray<Slot>;
  readonly batch: number;
  readonly sgd: object;
  readonly seed: { rng: number; stream: number };
  /** The source of test/parity/helpers.ts's `relError`, so that the page compares exactly as the parity suite does. */
  readonly relError: string;
}

/**
 * Runs in the page (serialised by Playwright: it may use only its argument and the page's
 * globals): fetches the inputs and the oracle's results, runs `step` on `backend` and answers
 * with the relative error of every array. The comparison happens in the page because only small
 * answers travel back quickly: Playwright copies every request body a page sends into Node.
 */
const inPage = async ({ name, json, backend, inputs, expected, batch, sgd, seed, relError: relErrorSource }: PageTask): Promise<PageResult> => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const w = (globalThis as any).winnow;
  const relError = (0, eval)(`(${relErrorSource})`) as (a: ArrayLike<number>, b: ArrayLike<number>) => number;
  const data = new Float32Array(await (await fetch(`/inputs/${name}`)).arrayBuffer());
  const want = new Float64Array(await (await fetch(`/expected/${name}`)).arrayBuffer());
  const get = (s: Slot) => data.slice(s.offset, s.offset + s.length);
  const state = { dtype: 'float32', tensors: new Map(), masks: new Map(), momentum: new Map() };
  let xs = new Float32Array(0);
  let ls = new Uint8Array(0);
  for (const s of inputs) {
    if (s.kind === 'tensor') state.tensors.set(s.name, { name: s.name, shape: s.shape, data: get(s) });
    else if (s.kind === 'mask') state.masks.set(s.name, Uint8Array.from(get(s)));
    else if (s.kind === 'momentum') state.momentum.set(s.name, get(s));
    else if (s.kind === 'x') xs = get(s);
    else if (s.kind === 'labels') ls = Uint8Array.from(get(s));
  }
  const lowered = w.lower(w.trace(w.modelFromJSON(json)));
  const model = await w.createModel(backend, lowered, state);
  try {
    const logits = Float32Array.from(await model.predict(xs, batch));
    const r = await model.trainStep(xs, ls, batch, sgd, batch, w.Rng.fromSeed(seed.rng, seed.stream));
    await model.endEpoch();
    await model.sync?.();
    const got = (s: Slot): ArrayLike<number> | undefined =>
      s.kind === 'logits' ? logits : s.kind === 'tensor' ? model.state.tensors.get(s.name)?.data : model.state.momentum.get(s.name);
    const errors = expected.map((s) => {
      const mine = got(s);
      return { kind: s.kind, name: s.name, error: mine && mine.length === s.length ? relError(mine, want.subarray(s.offset, s.offset + s.length)) : null };
    });
    const description = model.describe?.();
    return {
      backend: model.backend,
      mode: model.mode,
      programs: description?.programs,
      irText: lowered.asText(),
      loss: r.loss,
      nonFinite: r.nonFinite,
      errors,
    };
  } finally {
    model.dispose?.();
  }
};

if (skip !== undefined) console.warn(`test/browser/webgl2-parity.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== undefined)(`winnow/browser in Chromium: every example network on gpujs:webgl2 and cpu vs the float64 reference${skip ? ` (skipped: ${skip})` : ''}`, () => {
  /** What the server hands the page, by path. */
  const served = new Map<string, Buffer>();
  const warnings: string[] = [];
  let dir = '';
  let meta: Metafile | undefined;
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winnow-browser-'));
    meta = (await build({ ...browserBundle(root, join(dir, 'browser.mjs')), sourcemap: false, logLevel: 'error', metafile: true })).metafile;
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module">import * as winnow from "./browser.mjs"; globalThis.winnow = winnow; globalThis.ready = true;</script>',
    );
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      const data = served.get(url);
      if (data) return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data);
      const file = url === '/' ? 'index.html' : url === '/browser.mjs' ? 'browser.mjs' : undefined;
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(join(dir, file)));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const { chromium } = await import('playwright-core');
    const b = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    browser = b;
    const p = await b.newPage();
    p.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') warnings.push(m.text());
    });
    const failed = new Promise<never>((_, reject) => p.on('pageerror', (e) => reject(new Error(`the page failed: ${e.message}`))));
    await p.goto(`http://127.0.0.1:${port}/`);
    await Promise.race([p.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true), failed]);
    page = p;
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the bundle imports nothing and holds no Node built-in; the page sees the browser backends: webgl2 available, headlessgl refused in one line, auto picks cpu or webgpu', async () => {
    // esbuild's account of the build: no import left in the output, and no input is a Node
    // built-in (lazy Node-only imports become stub modules that throw, see runtime/bin/browser-bundle.mjs)
    expect(Object.values(meta!.outputs).flatMap((o) => o.imports)).toEqual([]);
    expect(Object.keys(meta!.inputs).filter((path) => path.startsWith('node:') || builtinModules.includes(path))).toEqual([]);
    const r = await page.evaluate(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const w = (globalThis as any).winnow;
      const why = (name: string) => w.resolveBackend(name).then((b: { name: string }) => b.name, (e: Error) => `refused: ${e.message}`);
      return {
        registered: w.registeredBackends(),
        webgl2: await why('gpujs:webgl2'),
        headlessgl: await why('gpujs:headlessgl'),
        auto: await why('auto'),
        node: typeof (globalThis as { process?: unknown }).process,
      };
    });
    expect(r.node, 'no Node globals in the page').toBe('undefined');
    expect(r.registered).toEqual(['reference', 'cpu', 'gpujs:webgpu', 'gpujs:webgl2', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu']);
    expect(r.webgl2).toBe('gpujs:webgl2');
    expect(r.headlessgl).toBe('refused: backend "gpujs:headlessgl" is not available here: headless-gl is for Node; in a browser use gpujs:webgl2');
    expect(['cpu', 'gpujs:webgpu']).toContain(r.auto);
  });

  /** The float64 oracle of each network, made once and shared by both backends. */
  const oracles = new Map<string, Promise<{ lowered: ReturnType<typeof lower>; inputs: ReadonlyArray<Slot>; expected: ReadonlyArray<Slot>; loss: number }>>();
  const oracleOf = (name: string) => {
    let o = oracles.get(name);
    if (!o) {
      o = (async () => {
        const lowered = lower(trace(readModelFile(join(root, 'examples', 'models', `${name}.json`))));
        const init = initModelState(lowered, { seed: 11, dtype: 'float64' });
        const inputs = inputsOf(convert(init, 'float32'));
        const oracle = await step(await createModel('reference', lowered, convert(init, 'float64')));
        const expected = expectedOf(oracle);
        served.set(`/inputs/${name}`, inputs.bytes);
        served.set(`/expected/${name}`, expected.bytes);
        return { lowered, inputs: inputs.slots, expected: expected.slots, loss: oracle.loss };
      })();
      oracles.set(name, o);
    }
    return o;
  };

  for (const backend of ['gpujs:webgl2', 'cpu']) {
    for (const name of models) {
      it(`${backend}: ${name}: a forward pass and a full training step`, async () => {
        const { lowered, inputs, expected, loss } = await oracleOf(name);
        const json = JSON.parse(readFileSync(join(root, 'examples', 'models', `${name}.json`), 'utf8')) as unknown;
        const before = warnings.length;
        const r = await page.evaluate(inPage, { name, json, backend, inputs, expected, batch, sgd, seed, relError: relError.toString() });
        // what ran in the page
        expect(r.irText, 'the bundle lowers the network to the same IR').toBe(lowered.asText());
        expect(r.backend).toBe(backend);
        if (backend === 'gpujs:webgl2') {
          expect(r.mode).toBe('webgl2');
          for (const p of r.programs!) {
            if (p.kernels === 0) continue;
            expect(p.executor, `${p.program} program`).toBe('per-kernel');
            expect(p.kernelModes, `${p.program} program: the gpu.js kernels that ran`).toEqual(['webgl2']);
          }
          expect(warnings.slice(before).filter((m) => /falling back|fallback/i.test(m))).toEqual([]);
        }
        // what it computed
        expect(r.nonFinite).toBeUndefined();
        expect(Math.abs(r.loss - loss) / loss, 'loss').toBeLessThan(1e-4);
        expect(r.errors.map((e) => `${e.kind} ${e.name}`)).toEqual(expected.map((e) => `${e.kind} ${e.name}`));
        for (const e of r.errors) {
          expect(e.error, `${e.kind} ${e.name}: the page has it, with the same length`).not.toBeNull();
          expect(e.error, `${e.kind} ${e.name}`).toBeLessThan(1e-4);
        }
      });
    }
  }
});
