/**
 * What the page shows of a training run: the status line, the backend the model really runs on
 * (its `backend`, and for gpu.js its mode), the live loss and accuracy curves, each k-winners
 * layer's duty-cycle histogram, the test digits with their predictions and the noise curve.
 * Curves are redrawn at most once per animation frame, however fast the steps come.
 *
 * @example
 * import { createRunView } from './run-view.ts';
 * // const view = createRunView(elements, subset.test);
 * // view.reset(); view.step(point); view.evaluated(evaluation);
 */
import type { Model } from '../../runtime/backend.ts';
import type { MnistSet } from '../../runtime/mnist-pixels.ts';
import { renderDigits } from './digits.ts';
import { accuracyFigure, dutyCycleFigure, lossFigure, noiseFigure } from './figures.ts';
import type { Evaluation, NoiseCurve, StepPoint } from './training-run.ts';

/** The page elements the view draws into. */
export interface RunElements {
  readonly status: HTMLElement;
  readonly running: HTMLElement;
  readonly loss: HTMLElement;
  readonly accuracy: HTMLElement;
  readonly duty: HTMLElement;
  readonly digits: HTMLElement;
  readonly noise: HTMLElement;
}

/** The view's handle. */
export interface RunView {
  readonly status: (text: string, state?: 'busy' | 'done' | 'error' | 'idle') => void;
  readonly started: (model: Model) => void;
  readonly stopped: () => void;
  readonly reset: () => void;
  readonly step: (p: StepPoint) => void;
  readonly evaluated: (e: Evaluation) => void;
  readonly noise: (n: NoiseCurve) => void;
  /** The test accuracies so far, for the page's inspection hook. */
  readonly tests: () => ReadonlyArray<{ readonly step: number; readonly accuracy: number }>;
}

/** The backend a model runs on, in words: `gpujs:webgl2 (webgl2 kernels)`, `cpu`. */
export const runningOn = (model: Model): string => {
  const mode = (model as Model & { mode?: string }).mode;
  return mode ? `${model.backend} (${mode} kernels)` : model.backend;
};

/** Makes the view over `els`, showing digits from `test`. */
export const createRunView = (els: RunElements, test: MnistSet): RunView => {
  let steps: StepPoint[] = [];
  let tests: { step: number; accuracy: number }[] = [];
  let frame = 0;

  const drawCurves = () => {
    frame = 0;
    if (steps.length === 0) return;
    els.loss.innerHTML = lossFigure(steps);
    els.accuracy.innerHTML = accuracyFigure(steps, tests);
  };
  const scheduleCurves = () => {
    frame ||= requestAnimationFrame(drawCurves);
  };

  renderDigits(els.digits, test, undefined);
  return {
    status: (text, state = 'busy') => {
      els.status.textContent = text;
      els.status.dataset.state = state;
    },
    started: (model) => {
      els.running.textContent = `running on ${runningOn(model)}`;
      els.running.dataset.backend = model.backend;
      els.running.classList.add('running');
    },
    stopped: () => els.running.classList.remove('running'),
    reset: () => {
      steps = [];
      tests = [];
      cancelAnimationFrame(frame);
      frame = 0;
      els.loss.replaceChildren();
      els.accuracy.replaceChildren();
      els.duty.replaceChildren(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'After the first evaluation.' }));
      els.noise.replaceChildren();
      renderDigits(els.digits, test, undefined);
    },
    step: (p) => {
      steps.push(p);
      scheduleCurves();
    },
    evaluated: (e) => {
      tests.push({ step: e.step, accuracy: e.accuracy });
      scheduleCurves();
      if (e.dutyCycles.length === 0) {
        els.duty.replaceChildren(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'This model has no k-winners layer.' }));
      } else {
        els.duty.innerHTML = e.dutyCycles.map((d) => `<div class="figure" data-layer="${d.layer}">${dutyCycleFigure(d)}</div>`).join('');
      }
      renderDigits(els.digits, test, e.predictions);
    },
    noise: (n) => {
      els.noise.innerHTML = noiseFigure(n);
    },
    tests: () => tests,
  };
};
