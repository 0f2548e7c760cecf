/**
 * Example digits with their predictions: the first test images drawn on canvases (28 x 28,
 * scaled up by CSS), each captioned with the model's prediction, green when right and red when
 * wrong (the true label in its tooltip), or with its label before any evaluation.
 *
 * @example
 * import { renderDigits } from './digits.ts';
 * // renderDigits(document.getElementById('digits')!, subset.test, evaluation.predictions);
 */
import type { MnistSet } from '../../runtime/mnist-pixels.ts';

/** Draws the first `count` images of `set` into `container` (replacing what it held). */
export const renderDigits = (container: HTMLElement, set: MnistSet, predictions: Uint8Array | undefined, count = 24): void => {
  const shown = Math.min(count, set.count, predictions ? predictions.length : set.count);
  const items: HTMLElement[] = [];
  for (let i = 0; i < shown; i++) {
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    const ctx = canvas.getContext('2d');
    if (ctx) {
      const image = ctx.createImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = 255 - set.pixels[i * 784 + p]; // dark ink on white
        image.data.set([v, v, v, 255], p * 4);
      }
      ctx.putImageData(image, 0, 0);
    }
    const label = set.labels[i];
    const figure = document.createElement('figure');
    figure.className = 'digit';
    figure.dataset.label = String(label);
    const caption = document.createElement('figcaption');
    if (predictions) {
      const p = predictions[i];
      figure.dataset.prediction = String(p);
      figure.classList.add(p === label ? 'right' : 'wrong');
      caption.textContent = p === label ? `${p}` : `${p} (is ${label})`;
      figure.title = `image ${i}: predicted ${p}, label ${label}`;
    } else {
      caption.textContent = `label ${label}`;
      figure.title = `image ${i}: label ${label}`;
    }
    figure.append(canvas, caption);
    items.push(figure);
  }
  container.replaceChildren(...items);
};
