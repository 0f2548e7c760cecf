/**
 * The browser playground end to end, in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core; its WebGL2 is SwiftShader): `npm run build:playground`'s command builds the page
 * (with a smaller MNIST subset), the playground's own server serves it, and the test uses it as a
 * person would: the model editor's validation (model files with the codec's path-level lines, DSL
 * snippets in their worker), a percentOn control, training on gpujs:webgl2 until the test accuracy
 * is well above chance (10%), with the backend shown checked against the model that ran (its
 * backend, and every kernel a gpu.js WebGL2 kernel), the figures, and a screenshot (written to a
 * temporary folder, printed). On `cpu` the page must train bit for bit as `winnow train` does.
 *
 * The WebGL2 run uses a 784-64-10 k-winners MLP, 20 steps of 32 images and 100 test images:
 * SwiftShader runs WebGL2 at about 10 MFLOP/s on this project's shared 2-core machine.
 *
 * Skipped, with one line saying so, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { decodeModel, modelFromJSON } from '../../dsl/model-file.ts';
import { noiseTest } from '../../runtime/evaluate.ts';
import { loadMnist } from '../../runtime/mnist.ts';
import { train } from '../../runtime/train.ts';
import { evaluateSnippet } from '../../playground/page/dsl-snippet.ts';
import { servePlayground, type PlaygroundServer } from '../../playground/serve.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chromiumPath = '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? undefined : `${chromiumPath} is not installed (apt-get install chromium)`;

/** The small model the test trains: a 784-64-10 k-winners MLP with boosting. */
const tiny = (percentOn: number) => ({
  format: 'winnow.model/1',
  name: 'tiny',
  input: [784],
  layers: [
    { dense: { units: 64 } },
    { kwta: { percentOn, boost: { strength: 1.5, strengthFactor: 0.85 } } },
    { dense: { units: 10 } },
    { softmaxCrossEntropy: {} },
  ],
});

/** What `winnowPlayground` answers in the page. */
interface PageRun {
  readonly result?: { backend: string; running: string; steps: number; interrupted: boolean; testAccuracy?: number; noiseScore?: number; noiseAccuracy?: number[]; error?: string };
  readonly model?: { backend: string; mode?: string; programs?: Array<{ program: string; kernels: number; kernelModes: string[] }>; kwta: Array<{ layer: number; k: number; n: number }> };
}

const pageRun = (page: Page): Promise<PageRun> =>
  page.evaluate(() => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const pg = (globalThis as any).winnowPlayground;
    const m = pg.model();
    return {
      result: pg.result(),
      model: m && {
        backend: m.backend,
        mode: m.mode,
        programs: m.describe?.().programs,
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        kwta: m.lowered.ir.ops.filter((op: any) => op.op === 'kwta').map((op: any) => ({ layer: op.layer, k: op.attrs.k, n: op.attrs.n })),
      },
    };
  });

if (skip !== undefined) console.warn(`test/browser/playground.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== undefined)(`the playground in Chromium${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const messages: string[] = [];
  let dir = '';
  let server: PlaygroundServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let pageError: Error | undefined;

  /** Sets the training form's fields. */
  const settings = async (values: Record<string, string>) => {
    for (const [id, v] of Object.entries(values)) await page.fill(`#set-${id}`, v);
  };

  /** Replaces the editor's text and waits for its verdict. */
  const edit = async (text: string): Promise<{ valid: boolean; lines: string[] }> => {
    await page.fill('#source', text);
    await page.waitForFunction(() => document.getElementById('problems')!.dataset.valid !== 'pending', null, { timeout: 20_000 });
    return page.evaluate(() => {
      const p = document.getElementById('problems')!;
      return { valid: p.dataset.valid === 'true', lines: p.dataset.valid === 'true' ? [p.textContent ?? ''] : Array.from(p.querySelectorAll('li')).map((li) => li.textContent ?? '') };
    });
  };

  /** Clicks Train and waits for the run to end. */
  const trainInPage = async (timeout: number) => {
    await page.click('#train');
    await page.waitForFunction(() => document.body.dataset.run !== undefined && document.body.dataset.run !== 'running', null, { timeout });
    if (pageError) throw pageError;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winnow-playground-'));
    // the command behind `npm run build:playground`, with a smaller subset
    const built = execFileSync(process.execPath, [join(root, 'playground', 'run.mjs'), 'build', '--out', dir, '--train', '2000', '--test', '500'], { cwd: root, encoding: 'utf8' });
    expect(built).toMatch(/^built the playground in .+ \(6 files, /);
    server = await servePlayground(dir, { port: 0 });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') messages.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => (pageError ??= e));
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 60_000 });
    if (pageError) throw pageError;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads: the bundled subset, the backends this browser offers and the one chosen with why, the first test digits', async () => {
    const r = await page.evaluate(() => ({
      ready: document.body.dataset.ready,
      status: document.getElementById('status')!.textContent,
      options: Array.from(document.querySelectorAll<HTMLOptionElement>('#backend option')).map((o) => ({ value: o.value, disabled: o.disabled, text: o.textContent ?? '' })),
      chosen: (document.getElementById('backend') as HTMLSelectElement).value,
      why: document.getElementById('backend-why')!.textContent ?? '',
      valid: document.getElementById('problems')!.dataset.valid,
      trainEnabled: !(document.getElementById('train') as HTMLButtonElement).disabled,
      digits: Array.from(document.querySelectorAll<HTMLElement>('#digits figure')).map((f) => Number(f.dataset.label)),
    }));
    expect(r.ready).toBe('true');
    expect(r.status).toBe('ready: 2,000 training and 500 test images bundled');
    expect(r.options.map((o) => o.value)).toEqual(['gpujs:webgpu', 'gpujs:webgl2', 'cpu', 'reference']);
    const webgl2 = r.options.find((o) => o.value === 'gpujs:webgl2')!;
    expect(webgl2.disabled).toBe(false);
    expect(r.options.find((o) => o.value === 'cpu')!.disabled).toBe(false);
    if (/SwiftShader/.test(webgl2.text) && r.options.find((o) => o.value === 'gpujs:webgpu')!.disabled) {
      // no GPU here: WebGL2 on a software renderer is offered, and the CPU fallback is chosen
      expect(r.chosen).toBe('cpu');
      expect(r.why).toMatch(/^chosen for this browser: no GPU: no WebGPU: .*; WebGL2 renders on .*SwiftShader.*, a software renderer: the CPU fallback$/);
    } else {
      expect(['gpujs:webgpu', 'gpujs:webgl2', 'cpu']).toContain(r.chosen);
    }
    expect(r.valid, 'the default model is valid').toBe('true');
    expect(r.trainEnabled).toBe(true);
    expect(r.digits).toEqual(Array.from(loadMnist('test', { limit: 24 }).labels));
  });

  it('a bad model file shows every problem with its path, the model codec lines; a JSON syntax error is one line; neither can be trained', async () => {
    const bad = { input: [784], layers: [{ dense: { units: 64, weightDensity: 0 } }, { kwta: { percentOn: 1.2 } }, { dense: { units: 10, colour: 'red' } }, { softmaxCrossEntropy: {} }] };
    const codec = decodeModel(bad);
    if (E.isRight(codec)) throw new Error('expected problems');
    expect(await page.isChecked('input[name=kind][value=json]')).toBe(true);
    const r = await edit(JSON.stringify(bad, null, 2));
    expect(r).toEqual({ valid: false, lines: [...codec.left] });
    expect(r.lines).toContain('layers[1].kwta.percentOn: must be in (0, 1), got 1.2');
    expect(await page.isDisabled('#train')).toBe(true);
    const syntax = await edit('{ "input": [784], "layers": [ }');
    expect(syntax.valid).toBe(false);
    expect(syntax.lines).toHaveLength(1);
    expect(syntax.lines[0]).toMatch(/^JSON: /);
    expect(await page.isDisabled('#train')).toBe(true);
  });

  it('DSL snippets run in a worker: valid ones check out, errors are the DSL lines, an endless loop is stopped, and a control turns the snippet into its model file', async () => {
    await page.check('input[name=kind][value=dsl]'); // the JSON shown is now checked as a snippet
    await page.waitForFunction(() => document.getElementById('problems')!.dataset.valid !== 'pending');
    const snippet = 'pipe(input([784]), dense(48), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }), dense(10), softmaxCrossEntropy)';
    expect(await edit(snippet)).toEqual({ valid: true, lines: ['valid: 4 layers, 38,170 parameters (38,170 non-zero)'] });
    const wrong = 'pipe(input([784]), dense(48), boost({}), dense(10), softmaxCrossEntropy)';
    const expected = (() => {
      try {
        evaluateSnippet(wrong);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected a DSL error');
    })();
    expect(await edit(wrong)).toEqual({ valid: false, lines: [expected] });
    expect(await edit('while (true) {}')).toEqual({ valid: false, lines: ['the snippet did not finish within 3 s (an endless loop?); it was stopped'] });
    expect((await edit(snippet)).valid, 'a fresh worker took over').toBe(true);
    // a control edits the model file: the snippet is replaced by its model file, with the change
    await page.fill('#knob-1-percentOn', '0.25');
    await page.waitForFunction(() => (document.getElementById('source') as HTMLTextAreaElement).value.startsWith('{'));
    expect(await page.isChecked('input[name=kind][value=json]')).toBe(true);
    expect(await page.textContent('#note')).toBe('The controls edit the model file: the DSL snippet was replaced by its model file (JSON).');
    const json = JSON.parse(await page.inputValue('#source')) as { layers: Array<Record<string, Record<string, unknown>>> };
    const canonical = evaluateSnippet(snippet);
    expect(json.layers[1].kwta).toEqual({ ...(canonical.layers[1].kwta as object), percentOn: 0.25 });
    expect(json.layers.filter((_, i) => i !== 1)).toEqual(canonical.layers.filter((_, i) => i !== 1));
  });

  it('change percentOn, train a few steps on gpujs:webgl2: test accuracy well above chance, the backend shown is the one the model ran, the figures drawn', async () => {
    expect((await edit(JSON.stringify(tiny(0.1), null, 2))).valid).toBe(true);
    await page.fill('#knob-1-percentOn', '0.2');
    await page.waitForFunction(() => (document.getElementById('source') as HTMLTextAreaElement).value.includes('"percentOn": 0.2'));
    const expectedK = lower(trace(modelFromJSON(tiny(0.2)))).ir.ops.filter((op) => op.op === 'kwta').map((op) => ({ layer: op.layer, k: op.attrs.k, n: op.attrs.n }));
    expect(expectedK).toEqual([{ layer: 1, k: 13, n: 64 }]);
    expect(await page.textContent('#summary')).toContain('13/64 (19)');

    await page.selectOption('#backend', 'gpujs:webgl2');
    await settings({ trainImages: '640', testImages: '100', epochs: '1', batchSize: '32', lr: '0.05', evalEvery: '10', seed: '1' });
    await page.check('#set-noise');
    const before = messages.length;
    const started = performance.now();
    await trainInPage(300_000);
    const seconds = (performance.now() - started) / 1000;
    const r = await pageRun(page);
    expect(r.result?.error).toBeUndefined();
    // the model that ran: gpujs:webgl2, every kernel a WebGL2 kernel, with the edited k
    expect(r.model?.backend).toBe('gpujs:webgl2');
    expect(r.model?.mode).toBe('webgl2');
    for (const p of r.model!.programs!) if (p.kernels > 0) expect(p.kernelModes, `${p.program} program`).toEqual(['webgl2']);
    expect(r.model?.kwta).toEqual(expectedK);
    expect(messages.slice(before).filter((m) => /falling back|fallback/i.test(m))).toEqual([]);
    // what the page shows is that model
    expect(await page.textContent('#backend-running')).toBe('running on gpujs:webgl2 (webgl2 kernels)');
    expect(await page.getAttribute('#backend-running', 'data-backend')).toBe(r.model?.backend);
    expect(r.result?.backend).toBe('gpujs:webgl2');
    // it learned: 20 steps of 32 images, tested on 100 images
    expect(r.result?.steps).toBe(20);
    expect(r.result?.interrupted).toBe(false);
    expect(r.result?.testAccuracy).toBeGreaterThan(0.3); // chance is 0.1
    expect(await page.textContent('#status')).toBe(
      `done: 20 steps on gpujs:webgl2 (webgl2 kernels); test accuracy ${(r.result!.testAccuracy! * 100).toFixed(1)}% on 100 images; noise score ${r.result!.noiseScore} of 1,100`,
    );
    // the figures: loss and accuracy curves, one duty-cycle histogram, 24 digits with predictions, the 11-level noise curve
    const figures = await page.evaluate(() => ({
      loss: document.querySelectorAll('#fig-loss svg polyline').length,
      accuracy: document.querySelectorAll('#fig-accuracy svg polyline').length,
      duty: Array.from(document.querySelectorAll<HTMLElement>('#fig-duty .figure')).map((f) => [f.dataset.layer, (f.querySelector('svg .legend')?.textContent ?? '').trim()]),
      digits: Array.from(document.querySelectorAll<HTMLElement>('#digits figure')).map((f) => [Number(f.dataset.label), Number(f.dataset.prediction)]),
      noise: document.querySelectorAll('#fig-noise svg circle').length,
    }));
    expect(figures.loss).toBe(1);
    expect(figures.accuracy).toBe(2);
    expect(figures.duty).toEqual([['1', 'k/n = 13/64']]);
    expect(figures.digits).toHaveLength(24);
    expect(figures.digits.every(([, p]) => Number.isInteger(p) && p >= 0 && p <= 9)).toBe(true);
    expect(figures.digits.filter(([l, p]) => l === p).length, 'most of the first 24 digits are right').toBeGreaterThan(8);
    expect(figures.noise).toBe(11);
    expect(r.result?.noiseAccuracy?.[0]).toBe(r.result?.testAccuracy); // noise level 0 is the clean test set
    const shots = mkdtempSync(join(tmpdir(), 'winnow-playground-shot-'));
    await page.screenshot({ path: join(shots, 'playground-webgl2.png'), fullPage: true });
    console.info(`playground on gpujs:webgl2: ${seconds.toFixed(1)} s for 20 steps, 2 evaluations and the noise test; screenshot: ${join(shots, 'playground-webgl2.png')}`);
  }, 360_000);

  it('the page answers while it trains: Stop ends a long run at the next step and keeps what it has', async () => {
    expect((await edit(JSON.stringify(tiny(0.1), null, 2))).valid).toBe(true);
    await page.selectOption('#backend', 'cpu');
    await settings({ trainImages: '2000', testImages: '100', epochs: '50', batchSize: '10', evalEvery: '25', seed: '1' });
    await page.click('#train');
    // the first evaluation is drawn while the run goes on (the page yields between steps)
    await page.waitForSelector('#fig-duty .figure', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-run')).toBe('running');
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.run !== 'running', null, { timeout: 60_000 });
    const r = await pageRun(page);
    expect(r.result?.interrupted).toBe(true);
    expect(r.result?.steps).toBeGreaterThanOrEqual(25);
    expect(r.result?.steps).toBeLessThan(50 * 200);
    expect(r.result?.noiseScore, 'no noise test after a stop').toBeUndefined();
    expect(await page.textContent('#status')).toMatch(/^stopped: \d+ steps on cpu; test accuracy \d+\.\d% on 100 images$/);
    expect(await page.isEnabled('#train')).toBe(true);
  });

  it('on cpu, the page trains bit for bit as winnow train does (same seed, same images)', async () => {
    expect((await edit(JSON.stringify(tiny(0.1), null, 2))).valid).toBe(true);
    await page.selectOption('#backend', 'cpu');
    await settings({ trainImages: '500', testImages: '200', epochs: '2', batchSize: '25', lr: '0.05', lrGamma: '0.8', momentum: '0.9', weightDecay: '0', evalEvery: '0', seed: '7' });
    await page.check('#set-noise');
    await trainInPage(120_000);
    const r = await pageRun(page);
    expect(r.result?.error).toBeUndefined();
    expect(r.model?.backend).toBe('cpu');
    const testSet = loadMnist('test', { limit: 200 });
    const node = await train({
      network: modelFromJSON(tiny(0.1)),
      hyper: { epochs: 2, batchSize: 25, firstEpochBatchSize: 25, lr: 0.05, lrGamma: 0.8, momentum: 0.9, weightDecay: 0, trainLimit: 500 },
      seed: 7,
      backend: 'cpu',
      trainSet: loadMnist('train', { limit: 500 }),
      testSet,
    });
    try {
      const noise = await noiseTest(node.model, testSet, { seed: 42 });
      expect(r.result?.steps).toBe(40);
      expect(r.result?.testAccuracy).toBe(node.metrics[1].testAccuracy);
      expect(r.result?.noiseScore).toBe(noise.score);
      expect(r.result?.noiseAccuracy).toEqual(noise.accuracy);
    } finally {
      node.model.dispose?.();
    }
  });
});
