/**
 * The playground page's entry (bundled as playground.js): loads the bundled MNIST subset, probes
 * the backends this browser can run, mounts the model editor and the training settings, and
 * runs training when asked. Everything winnow here comes from `winnow/browser`
 * (runtime/browser.ts), the library's browser bundle.
 *
 * For tests and the browser console, `globalThis.winnowPlayground` has `model()` (the latest
 * run's model: its `backend`, gpu.js `mode` and `describe()`, its `state`) and `result()` (how
 * the latest run ended).
 *
 * @example
 * // in the page's console, after a run:
 * // winnowPlayground.model().backend; // 'gpujs:webgl2'
 * // winnowPlayground.result();         // { backend: 'gpujs:webgl2', steps: 20, testAccuracy: 0.71, ... }
 */
import { resolveBackend, type Model } from '../../runtime/browser.ts';
import { playgroundBackends, preferredBackend, probeBackends, type BackendStatus } from './backend-choice.ts';
import { createSnippetEvaluator } from './dsl-client.ts';
import { loadSubset } from './dataset.ts';
import { mountEditor } from './editor.ts';
import { createRunView, runningOn } from './run-view.ts';
import { readSettings, settingFields, trainingValues } from './settings.ts';
import { runTraining } from './training-run.ts';

/** How the latest run ended (for `winnowPlayground.result()`). */
interface RunOutcome {
  readonly backend: string;
  readonly running: string;
  readonly steps: number;
  readonly interrupted: boolean;
  readonly testAccuracy?: number;
  readonly testImages: number;
  readonly noiseScore?: number;
  readonly noiseAccuracy?: ReadonlyArray<number>;
  readonly error?: string;
}

const byId = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/** The WebGL2 renderer's name (unmasked where the browser allows), or undefined without WebGL2. */
const webgl2Renderer = (): string | undefined => {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return name;
};

const start = async () => {
  const status = byId('status');
  const say = (text: string, state = 'busy') => {
    status.textContent = text;
    status.dataset.state = state;
  };
  let latest: Model | undefined;
  let outcome: RunOutcome | undefined;
  (globalThis as { winnowPlayground?: unknown }).winnowPlayground = { model: () => latest, result: () => outcome };

  // the settings form, from its field list
  const form = byId<HTMLFormElement>('settings');
  form.addEventListener('submit', (e) => e.preventDefault());
  const inputs = new Map<string, HTMLInputElement>();
  for (const f of settingFields) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.id = `set-${f.id}`;
    input.name = f.id;
    if (f.kind === 'boolean') {
      input.type = 'checkbox';
      input.checked = f.fallback === true;
      label.className = 'check';
      label.append(input, f.label);
    } else {
      input.type = 'text';
      input.inputMode = 'decimal';
      input.value = String(f.fallback);
      label.append(f.label, input);
    }
    label.title = `${f.label}: ${f.rule}`;
    inputs.set(f.id, input);
    form.append(label);
  }

  const trainButton = byId<HTMLButtonElement>('train');
  const stopButton = byId<HTMLButtonElement>('stop');
  let running = false;
  let ready = false;
  const editor = mountEditor(
    {
      preset: byId('preset'),
      kinds: Array.from(document.querySelectorAll<HTMLInputElement>('input[name=kind]')),
      source: byId('source'),
      note: byId('note'),
      problems: byId('problems'),
      knobs: byId('knobs'),
      summary: byId('summary'),
    },
    createSnippetEvaluator(new URL('dsl-worker.js', import.meta.url).href),
    {
      changed: (model) => (trainButton.disabled = running || !ready || !model),
      trainingDefaults: (training) => {
        for (const [id, v] of Object.entries(trainingValues(training))) inputs.get(id)!.value = String(v);
      },
    },
  );

  say('loading the MNIST subset...');
  const data = await loadSubset(new URL('mnist-subset.bin.gz', import.meta.url).href);
  inputs.get('trainImages')!.value = String(Math.min(Number(inputs.get('trainImages')!.value) || data.train.count, data.train.count));
  inputs.get('testImages')!.value = String(Math.min(Number(inputs.get('testImages')!.value) || data.test.count, data.test.count));
  const view = createRunView(
    { status, running: byId('backend-running'), loss: byId('fig-loss'), accuracy: byId('fig-accuracy'), duty: byId('fig-duty'), digits: byId('digits'), noise: byId('fig-noise') },
    data.test,
  );

  say('probing the backends...');
  const statuses: BackendStatus[] = await probeBackends({ resolveBackend, webgl2Renderer });
  const preferred = preferredBackend(statuses);
  const backendSelect = byId<HTMLSelectElement>('backend');
  const why = byId('backend-why');
  backendSelect.replaceChildren(
    ...statuses.map((s) => {
      const o = document.createElement('option');
      o.value = s.name;
      o.disabled = !s.available;
      o.textContent = `${s.name}${s.available ? (s.detail ? ` (${s.detail})` : '') : ` (unavailable: ${s.detail})`}`;
      return o;
    }),
  );
  backendSelect.value = preferred.name;
  backendSelect.disabled = false;
  why.textContent = `chosen for this browser: ${preferred.why}`;
  backendSelect.addEventListener('change', () => {
    const s = statuses.find((x) => x.name === backendSelect.value);
    why.textContent = backendSelect.value === preferred.name ? `chosen for this browser: ${preferred.why}` : `chosen by you${s?.software ? ' (a software renderer: slow)' : ''}`;
  });
  document.body.dataset.backends = playgroundBackends.filter((n) => statuses.find((s) => s.name === n)?.available).join(' ');

  let controller: AbortController | undefined;
  stopButton.addEventListener('click', () => controller?.abort());
  trainButton.addEventListener('click', async () => {
    const model = editor.current();
    if (!model || running) return;
    const values: Record<string, string | boolean> = {};
    for (const [id, input] of inputs) values[id] = input.type === 'checkbox' ? input.checked : input.value;
    const read = readSettings(values, backendSelect.value, { train: data.train.count, test: data.test.count });
    if (!read.ok) return view.status(read.problem, 'error');
    const settings = read.settings;
    latest?.dispose?.();
    latest = undefined;
    outcome = undefined;
    running = true;
    controller = new AbortController();
    trainButton.disabled = true;
    stopButton.disabled = false;
    backendSelect.disabled = true;
    document.body.dataset.run = 'running';
    view.reset();
    try {
      const r = await runTraining(model.lowered, data, settings, {
        status: (text) => view.status(text),
        started: (m) => {
          latest = m;
          view.started(m);
        },
        step: view.step,
        evaluated: view.evaluated,
        noise: view.noise,
      }, controller.signal);
      outcome = {
        backend: r.model.backend,
        running: runningOn(r.model),
        steps: r.steps,
        interrupted: r.interrupted,
        testImages: settings.testImages,
        ...(r.last ? { testAccuracy: r.last.accuracy } : {}),
        ...(r.noise ? { noiseScore: r.noise.score, noiseAccuracy: r.noise.accuracy } : {}),
      };
      const accuracy = r.last ? `; test accuracy ${(r.last.accuracy * 100).toFixed(1)}% on ${settings.testImages} images` : '';
      const noise = r.noise ? `; noise score ${r.noise.score.toLocaleString('en-US')} of ${r.noise.maxScore.toLocaleString('en-US')}` : '';
      view.status(`${r.interrupted ? 'stopped' : 'done'}: ${r.steps} steps on ${runningOn(r.model)}${accuracy}${noise}`, r.interrupted ? 'idle' : 'done');
    } catch (e) {
      const m = latest as Model | undefined; // set by `started`, which TypeScript cannot see
      outcome = { backend: m?.backend ?? settings.backend, running: m ? runningOn(m) : settings.backend, steps: 0, interrupted: true, testImages: settings.testImages, error: oneLine(e) };
      view.status(oneLine(e), 'error');
      console.error(e); // the whole story, for the browser console; the page shows one line
    } finally {
      running = false;
      controller = undefined;
      stopButton.disabled = true;
      backendSelect.disabled = false;
      trainButton.disabled = !editor.current();
      view.stopped();
      document.body.dataset.run = outcome?.error ? 'error' : outcome?.interrupted ? 'stopped' : 'done';
    }
  });

  ready = true;
  trainButton.disabled = !editor.current();
  say(`ready: ${data.train.count.toLocaleString('en-US')} training and ${data.test.count.toLocaleString('en-US')} test images bundled`, 'idle');
  document.body.dataset.ready = 'true';
};

start().catch((e: unknown) => {
  const status = document.getElementById('status');
  if (status) {
    status.textContent = oneLine(e);
    status.dataset.state = 'error';
  }
  document.body.dataset.ready = 'error';
});
