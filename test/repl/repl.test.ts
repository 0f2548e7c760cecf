import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../runtime/checkpoint/checkpoint.ts';
import type { ModelState } from '../../runtime/model-state.ts';
import { startRepl, type ReplOptions } from '../../runtime/repl/repl.ts';

const dir = mkdtempSync(join(tmpdir(), 'winnow-repl-'));
const prompt = 'winnow> ';
// Small enough that every run here is a fraction of a second on the reference backend.
const tiny = join(dir, 'tiny.json');
writeFileSync(tiny, JSON.stringify({
  name: 'tiny', input: [784],
  layers: [{ dense: { units: 32, weightDensity: 0.5 } }, { kwta: { percentOn: 0.25, boost: { strength: 1.5 } } }, { dense: { units: 10 } }, { softmaxCrossEntropy: {} }],
  training: { batchSize: 32, lr: 0.05, momentum: 0.9 },
}));

/** A REPL on streams: `run(line)` enters a line and resolves to what it printed before the next prompt. */
const open = async (options: Partial<ReplOptions> = {}) => {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const watchers = new Set<() => void>();
  let onText: ((t: string) => void) | undefined;
  output.on('data', (d) => {
    text += String(d);
    onText?.(text);
    for (const w of [...watchers]) w();
  });
  const r = await startRepl({ input, output, terminal: false, history: join(dir, 'history'), backend: 'reference', ...options });
  const until = (test: () => boolean) =>
    new Promise<void>((resolve) => {
      const w = () => {
        if (!test()) return;
        watchers.delete(w);
        resolve();
      };
      watchers.add(w);
      w();
    });
  const run = async (line: string, watch?: (t: string) => void): Promise<string> => {
    const at = text.length;
    onText = watch && ((t) => watch(t.slice(at)));
    input.write(`${line}\n`);
    await until(() => text.length > at && text.endsWith(prompt));
    onText = undefined;
    return text.slice(at, text.length - prompt.length);
  };
  const close = async () => {
    input.end();
    await r.closed;
  };
  return { r, run, close, text: () => text };
};

const bits = (s: ModelState) => Object.fromEntries([...s.tensors].map(([n, t]) => [n, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')]));

describe('winnow repl, driven through its input stream', () => {
  it('loads a model, sets a valid and an invalid value, and prints the summary', async () => {
    const { r, run, close, text } = await open();
    expect(text()).toMatch(/^winnow repl: reference backend \(requested\)\. \.help lists the commands/);
    expect(await run('.summary')).toBe('.summary: no model loaded: .load <model file, checkpoint directory or example> first\n');
    expect(await run(`.load ${tiny}`)).toMatch(/^loaded .*tiny\.json: input \[784\], 4 layers, 25,450 params \(12,906 non-zero\); fresh weights \(seed 1\)\n$/);
    const before = bits(r.session.current()!.state);
    expect(await run('.set layers.1.kwta.percentOn 0.125')).toBe(
      'layers[1].kwta.percentOn: 0.25 -> 0.125; recompiles on next use; kept all 6 state tensors (weights, momentum, duty cycles)\n',
    );
    expect(bits(r.session.current()!.state)).toEqual(before); // the weights survive a k change
    // An invalid value: one line, the path as a model file's error names it; the model is unchanged.
    expect(await run('.set layers.1.kwta.percentOn 1.5')).toBe('.set: layers[1].kwta.percentOn: must be in (0, 1), got 1.5\n');
    expect(await run('.set layers.0.dense.colour 3')).toBe('.set: layers[0].dense.colour: unknown field (known: units, weightDensity, dropconnect, bias, name)\n');
    expect(await run('.set layers.7.dense.units 3')).toBe('.set: layers[7]: no such entry (layers has 4, 0 to 3)\n');
    expect(await run('.set training.lr 0.02')).toBe('training.lr: 0.05 -> 0.02 (no recompile: the compiled model and the weights are kept)\n');
    const summary = await run('.summary');
    expect(summary).toMatch(/^.*tiny\.json: input \[784\], 4 layers\n#\s+layer\s+output\s+params\s+non-zero\s+weight density\s+k \(train\)\s+k \(infer\)\s+boost\n/);
    expect(summary).toMatch(/\n1\s+kwta\s+\[32\]\s+0\s+0\s+4 of 32\s+6\s+1\.5 x0\.85\/epoch, period 1000\n/);
    expect(summary).toMatch(/\n\s+total\s+25,450\s+12,906\s+50\.7%\nfresh weights \(seed 1\); backend reference\n$/);
    // the DSL and the session are in scope, with top-level await
    expect(await run('net.layers[1].percentOn')).toBe('0.125\n');
    expect(await run('const m = await session.model(); m.backend')).toBe("'reference'\n");
    expect(await run('use(pipe(input([784]), dense(10), softmaxCrossEntropy))')).toBe('using use(): 2 layers; fresh weights (seed 1)\n');
    expect(await run('examples.sparseMlp.layers.length')).toBe('6\n');
    expect(await run('input([0])')).toBe('Uncaught WinnowError: input: shape must be [n] or [c, h, w] of positive integers <= 65536, got [0]\n');
    expect(await run('await Promise.reject(new WinnowError("usage", "async one"))')).toBe('Uncaught WinnowError: async one\n');
    expect(await run('null.x')).toMatch(/^Uncaught TypeError: Cannot read properties of null/); // other errors as in any REPL
    expect(await run('.backend')).toMatch(/^backend: reference/); // and the queue goes on after each
    await close();
  });

  it('trains a few steps, streaming loss, accuracy and duty-cycle entropy, then continues the same run', async () => {
    const { r, run, close } = await open();
    await run(`.load ${tiny}`);
    const out = await run('.train 1 --limit 128 --test-limit 50');
    expect(out).toMatch(/^training .*tiny\.json on reference: epoch 1, 128 images, batch 32, lr 0\.05 x1\/epoch, momentum 0\.9; Ctrl-C stops after the current step\n/);
    expect(out).toMatch(/\nepoch 1\/1 \[#+\] 100% loss \d\.\d{4} acc [\d.]+% \d+ samples\/s {2}entropy H1 \d+%\n/);
    expect(out).toMatch(/\nepoch 1\/1 {2}loss \d\.\d{4} {2}train [\d.]+% {2}test [\d.]+% .*\n {2}duty-cycle entropy: layer 1 [\d.]+ of 26\.0 bits \(\d+%\)\n/);
    expect(out).toMatch(/\ndone: trained 1 epoch \(4 steps\)\n$/);
    expect(r.session.current()!.run.progress).toEqual({ epochsDone: 1, batchInEpoch: 0, samplesSeen: 128, step: 4 });
    expect(await run('.train 1 --limit 128 --test-limit 50')).toMatch(/epoch 2, 128 images[\s\S]*\nepoch 2\/2 {2}loss[\s\S]*done: trained 2 epochs \(8 steps\)\n$/);
    expect(await run('.train zero')).toBe('.train: epochs must be a positive integer, got "zero"\n');
    expect(await run('.train --limit -3')).toBe('.train: --limit must be a positive integer, got -3\n');
    await close();
  });

  it('on the cpu backend, .train reuses the compiled model and .set keeps its trained weights', async () => {
    const { r, run, close } = await open({ backend: 'cpu' });
    await run(`.load ${tiny}`);
    const first = await r.session.model();
    expect(await run('.train 1 --limit 64 --test-limit 20')).toMatch(/ on cpu: [\s\S]*done: trained 1 epoch \(2 steps\)\n$/);
    expect(await r.session.model()).toBe(first);
    await run('.train 1 --limit 64 --test-limit 20');
    expect(await r.session.model()).toBe(first); // compiled once, trained twice
    const trained = bits(r.session.current()!.state);
    await run('.set layers.1.kwta.percentOn 0.125');
    expect(bits(r.session.current()!.state)).toEqual(trained);
    expect(await r.session.model()).not.toBe(first); // the k change recompiles
    expect(await run('.train 1 --limit 64 --test-limit 20')).toMatch(/done: trained 3 epochs \(6 steps\)\n$/);
    await close();
  });

  it('an interrupted .train keeps the last finished step and resumes to the same weights as an uninterrupted run', async () => {
    const { r, run, close } = await open();
    await run(`.load ${tiny}`);
    let sent = false;
    const out = await run('.train 1 --limit 256 --test-limit 50', (t) => {
      if (!sent && /\nepoch 1\/1 \[/.test(t)) {
        sent = true;
        r.server.emit('SIGINT'); // what readline emits for Ctrl-C
      }
    });
    expect(out).toMatch(/\ninterrupted: stopping after the current step\ninterrupted at step (\d+) \(epoch 1, after batch \1\): the weights of that step are kept; \.train continues from there\n$/);
    const stopped = r.session.current()!.run;
    expect(stopped.interrupted).toBe(true);
    expect(stopped.progress.step).toBeGreaterThan(0);
    expect(stopped.progress.step).toBeLessThan(8);
    expect(stopped.progress.samplesSeen).toBe(32 * stopped.progress.step);
    const resumed = await run('.train 1 --limit 256 --test-limit 50');
    expect(resumed).toMatch(new RegExp(`epoch 1 \\(from batch ${stopped.progress.step + 1}\\)`));
    const epochLine = (s: string) => /\nepoch 1\/1 {2}loss (\S+) {2}train (\S+) {2}test (\S+)/.exec(s)!.slice(1);
    const interruptedThenResumed = { weights: bits(r.session.current()!.state), line: epochLine(resumed) };
    // The same from fresh weights without the interruption: bit-identical.
    await run(`.load ${tiny}`);
    const straight = await run('.train 1 --limit 256 --test-limit 50');
    expect(bits(r.session.current()!.state)).toEqual(interruptedThenResumed.weights);
    expect(epochLine(straight)).toEqual(interruptedThenResumed.line);
    // Outside a running command, Ctrl-C is the REPL's own again.
    r.server.emit('SIGINT');
    expect(await run('1 + 1')).toMatch(/2\n$/);
    await close();
  });

  it('sweeps two values: a table and a chart of accuracy and noise score', async () => {
    const { run, close } = await open();
    await run(`.load ${tiny}`);
    const out = await run('.sweep layers.1.kwta.percentOn 0.125 0.5 --limit 128 --test-limit 40');
    expect(out).toMatch(/^sweeping layers\[1\]\.kwta\.percentOn over 0\.125, 0\.5: one run each from fresh weights \(seed 1\), 1 epoch on 128 images, tested on 40, on reference/);
    expect(out).toMatch(/\nlayers\[1\]\.kwta\.percentOn = 0\.125: test accuracy [\d.]+%, noise score \d+ of 440, [\d.]+ s\n/);
    expect(out).toMatch(/\npercentOn\s+test accuracy\s+noise score\s+of max\s+train loss\s+seconds\n[-\s]+\n\s+0\.125\s+[\d.]+%\s+\d+\s+[\d.]+%\s+\d\.\d{4}\s+[\d.]+\n\s+0\.5\s+[\d.]+%/);
    // the chart: a y axis, both x labels, the legend (ASCII, since the output is not a terminal)
    expect(out).toMatch(/\n\s+\+\+-+\+\n\s+0\.125\s+0\.5\n\s+layers\[1\]\.kwta\.percentOn\n\s+\* test accuracy {3}o noise score \(% of max\) {3}@ both\n$/);
    expect(out.split('\n').filter((l) => /^(\s*[\d.]+%|\s+) [+|]([ .*o@]|$)/.test(l)).length).toBe(10); // the plot's rows
    // a bad value is refused before anything trains
    expect(await run('.sweep layers.1.kwta.percentOn 0.2 2 --limit 64')).toBe('.sweep: layers[1].kwta.percentOn: must be in (0, 1), got 2\n');
    await close();
  });

  it('.backend with a bad name prints one line and the session goes on; .noise, .ir and .kernels work', async () => {
    const { r, run, close } = await open();
    await run(`.load ${tiny}`);
    expect(await run('.backend nope')).toBe('.backend: unknown backend "nope" (known: auto, reference, cpu, gpujs:webgpu, gpujs:webgl2, gpujs:headlessgl, gpujs:webasm, gpujs:cpu)\n');
    expect(r.session.backend().name).toBe('reference');
    expect(await run('.backend')).toMatch(/^backend: reference \(requested\); names: auto, reference, cpu/);
    const noise = await run('.noise --limit 30');
    expect(noise).toMatch(/^noise test of .*tiny\.json \(fresh weights \(seed 1\)\) on 30 test images, seed 42, reference backend\nnoise\s+pixels\s+accuracy\s+correct\n/);
    expect(noise).toMatch(/\n 0\.50\s+392\s+[\d.]+%\s+\d+\nnoise score: \d+ of 330\n$/);
    const ir = await run('.ir');
    expect(ir).toMatch(/^; stage: traced\n[\s\S]*\n; stage: lowered \(passes: /);
    const kernels = await run('.kernels --batch 8');
    expect(kernels).toMatch(/; cpu sources of program train \(batch 8\): \d+ kernels: /);
    expect(kernels).toMatch(/\n; kernels per program on cpu: train \d+, inference \d+, epochEnd \d+\n$/);
    expect(await run('.kernels --backend reference')).toMatch(/^\.kernels: --backend reference: the reference backend interprets the IR and generates no kernels/);
    expect(await run('.load nowhere.json')).toBe('.load: nowhere.json: no such file\n');
    // percentOn and k are alternatives: setting one replaces the other
    expect(await run('.set layers.1.kwta.k 4')).toMatch(/^layers\[1\]\.kwta\.k: \(unset\) -> 4 \(in place of percentOn 0\.25\); recompiles on next use; kept all 6 /);
    expect(r.session.current()!.network.layers[1]).toMatchObject({ kind: 'kwta', k: 4 });
    await close();
  });

  it('saves model files and checkpoints, and loads them back', async () => {
    const { r, run, close } = await open();
    await run(`.load ${tiny}`);
    await run('.train 1 --limit 64 --test-limit 20');
    await run('.set layers.1.kwta.percentOn 0.125');
    const file = join(dir, 'edited.json');
    expect(await run(`.save ${file}`)).toMatch(/^saved model file /);
    expect(JSON.parse(readFileSync(file, 'utf8')).layers[1].kwta.percentOn).toBe(0.125);
    const ckpt = join(dir, 'ckpt');
    expect(await run(`.save ${ckpt}`)).toMatch(/^saved checkpoint .*ckpt: trained 1 epoch \(2 steps\); continue with /);
    const saved = loadCheckpoint(ckpt);
    expect(saved.meta.progress).toEqual({ epochsDone: 1, batchInEpoch: 0, samplesSeen: 64, step: 2 });
    expect(bits(saved.state)).toEqual(bits(r.session.current()!.state));
    await run(`.load ${file}`);
    expect(r.session.current()!.run.progress.step).toBe(0);
    expect(await run(`.load ${ckpt}`)).toMatch(/^loaded checkpoint .*ckpt: input \[784\], 4 layers, .*; trained 1 epoch \(2 steps\) on reference\n$/);
    expect(bits(r.session.current()!.state)).toEqual(bits(saved.state));
    expect(r.session.current()!.network.layers[1]).toMatchObject({ kind: 'kwta', percentOn: 0.125 });
    await close();
  });

  it('saves history between sessions, in the file the environment names', async () => {
    const file = join(dir, 'hist', 'repl_history');
    const a = await open({ history: file });
    await a.run('1 + 2');
    await a.run('.backend');
    await a.close();
    expect(readFileSync(file, 'utf8')).toBe('1 + 2\n.backend\n');
    const b = await open({ history: file });
    expect((b.r.server as unknown as { history: string[] }).history.slice(0, 2)).toEqual(['.backend', '1 + 2']);
    await b.close();
    const none = await open({ history: null });
    await none.run('3 + 4');
    await none.close();
    expect(readFileSync(file, 'utf8')).toBe('1 + 2\n.backend\n');
    expect(existsSync(join(dir, 'history'))).toBe(true); // the other sessions' file
  });
});
