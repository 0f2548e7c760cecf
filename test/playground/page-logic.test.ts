/**
 * The browser playground's logic, in Node (no DOM needed): the bundled MNIST subset's file format,
 * DSL snippets, model checking with the codec's path-level messages, the controls, the settings
 * form's rules and the backend choice. The page itself runs in Chromium in
 * test/browser/playground.test.ts.
 */
import * as E from 'fp-ts/lib/Either.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../../dsl/model-file.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { loadMnist } from '../../runtime/mnist.ts';
import { decodeSubset, encodeSubset } from '../../playground/dataset-format.ts';
import { preferredBackend, probeBackends, type BackendStatus } from '../../playground/page/backend-choice.ts';
import { evaluateSnippet } from '../../playground/page/dsl-snippet.ts';
import { applyKnob, knobsOf } from '../../playground/page/knobs.ts';
import { checkModelJSON, checkModelText, type CheckedModel } from '../../playground/page/model-source.ts';
import { presets } from '../../playground/page/presets.ts';
import { readSettings, settingFields, trainingValues } from '../../playground/page/settings.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const example = (name: string): unknown => JSON.parse(readFileSync(join(root, 'examples', 'models', `${name}.json`), 'utf8'));

const valid = (json: unknown): CheckedModel => {
  const r = checkModelJSON(json);
  if (!r.ok) throw new Error(`expected a valid model, got ${r.problems.join('; ')}`);
  return r.model;
};

const kwtaOps = (m: CheckedModel) => m.lowered.ir.ops.filter((op) => op.op === 'kwta').map((op) => ({ layer: op.layer, k: op.attrs.k, n: op.attrs.n }));

describe('the bundled MNIST subset file', () => {
  const train = loadMnist('train', { limit: 5 });
  const test = loadMnist('test', { limit: 3 });

  it('round-trips real MNIST images and labels', () => {
    const back = decodeSubset(encodeSubset({ train, test }));
    expect(back.train.count).toBe(5);
    expect(back.test.count).toBe(3);
    expect(Array.from(back.train.labels)).toEqual(Array.from(train.labels));
    expect(Array.from(back.test.labels)).toEqual(Array.from(test.labels));
    expect(Buffer.from(back.train.pixels).equals(Buffer.from(train.pixels.subarray(0, 5 * 784)))).toBe(true);
    expect(Buffer.from(back.test.pixels).equals(Buffer.from(test.pixels.subarray(0, 3 * 784)))).toBe(true);
  });

  it('refuses other files, truncation, trailing bytes and bad labels in one line', () => {
    const bytes = encodeSubset({ train, test });
    const fail = (b: Uint8Array) => {
      try {
        decodeSubset(b);
      } catch (e) {
        expect(e).toBeInstanceOf(WinnowError);
        expect((e as Error).message).not.toContain('\n');
        return (e as Error).message;
      }
      throw new Error('expected a failure');
    };
    expect(fail(new TextEncoder().encode('<!doctype html>'))).toBe('the MNIST subset: not a winnow MNIST subset file (it must start with WNMNIST1)');
    expect(fail(bytes.subarray(0, bytes.length - 1))).toBe(`the MNIST subset: 5 training and 3 test images need ${bytes.length} bytes, the file has ${bytes.length - 1} (truncated)`);
    expect(fail(Uint8Array.from([...bytes, 0]))).toContain('(trailing bytes)');
    const badLabel = bytes.slice();
    badLabel[16 + 5 * 784 + 2] = 12; // the third training label
    expect(fail(badLabel)).toBe('the MNIST subset: training label 2 is 12, not a digit 0..9');
  });
});

describe('DSL snippets', () => {
  it('an expression, a README network module, a returned network and a last statement give the same model file as the DSL', () => {
    const expected = evaluateSnippet('pipe(input([784]), dense(64), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }), dense(10), softmaxCrossEntropy)');
    expect(expected.layers.map((l) => Object.keys(l)[0])).toEqual(['dense', 'kwta', 'dense', 'softmaxCrossEntropy']);
    expect(expected.layers[0]).toEqual({ dense: { units: 64, weightDensity: 0.5, dropconnect: 0, bias: true } });
    const body = 'pipe(\n  input([784]),\n  dense(64), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }),\n  dense(10), softmaxCrossEntropy,\n)';
    expect(evaluateSnippet(`import { pipe, input, dense, sparse, kwta, boost, softmaxCrossEntropy } from 'winnow/dsl';\n\nexport default ${body};\n`)).toEqual(expected);
    expect(evaluateSnippet(`const net = ${body};\nreturn net;`)).toEqual(expected);
    expect(evaluateSnippet(`const net = ${body};\nnet // the last statement's value`)).toEqual(expected);
    expect(evaluateSnippet(`${body}; // with a comment after it`)).toEqual(expected);
    // and the model codec accepts it as a file
    expect(E.isRight(decodeModel(expected))).toBe(true);
  });

  it('every failure is one line: syntax, DSL errors naming the layer, other exceptions, values that are not networks', () => {
    const message = (source: string) => {
      try {
        evaluateSnippet(source);
      } catch (e) {
        expect(e).toBeInstanceOf(WinnowError);
        expect((e as Error).message).not.toContain('\n');
        return (e as Error).message;
      }
      throw new Error('expected a failure');
    };
    expect(message('pipe(input([784]), dense(64)')).toBe('syntax error: missing ) after argument list');
    expect(message('pipe(input([784]), dense(64), boost({}))')).toBe('layer 0 (dense): boost applies to the kwta layer before it, not to a dense layer');
    expect(message('pipe(input([784]), conv2d({ filters: 4, kernel: 3 }))')).toBe('layer 0 (conv2d): expects an image input [c, h, w], got [784]');
    expect(message('pipe(input([784]), dense(64), kwta({ percentOn: 1.2 }))')).toBe('kwta: percentOn: must be in (0, 1), got 1.2');
    expect(message('frobnicate(3)')).toBe('ReferenceError: frobnicate is not defined');
    expect(message('dense(10)')).toBe('the snippet gives a function (a layer on its own? start with pipe(input([784]), ...)), not a network');
    expect(message('const net = pipe(input([784]), dense(10));')).toBe('the snippet gives nothing (end with the network, or return it, or export default it), not a network');
    expect(message('42')).toBe('the snippet gives a number, not a network');
    expect(message('  ')).toBe('the snippet is empty: write a network, e.g. pipe(input([784]), dense(10), softmaxCrossEntropy)');
    expect(message('import("node:fs")')).toBe('import() is not available in a snippet: only the DSL is in scope');
  });

  it('sees the DSL but not the usual globals, and runs in strict mode', () => {
    const globals = 'typeof fetch + typeof globalThis + typeof window + typeof process + typeof Function + typeof setTimeout';
    expect(() => evaluateSnippet(globals)).toThrow('the snippet gives a string, not a network');
    const json = evaluateSnippet(`(${globals}) === 'undefined'.repeat(6) && (function () { return this; })() === undefined ? pipe(input([784]), dense(10), softmaxCrossEntropy) : 0`);
    expect(json.layers).toHaveLength(2);
  });

  it('the DSL preset is the same network as the model-file preset', () => {
    const fromDsl = valid(evaluateSnippet(presets.find((p) => p.id === 'small-sparse-mlp-dsl')!.text));
    const fromFile = valid(JSON.parse(presets.find((p) => p.id === 'small-sparse-mlp')!.text));
    expect(fromDsl.lowered.asText()).toBe(fromFile.lowered.asText());
    expect(fromDsl.network.training).toEqual(fromFile.network.training);
  });
});

describe('checking the editor text', () => {
  it('a bad model file gets every problem with its path, exactly as the model codec reports them', () => {
    const bad = { input: [784], layers: [{ dense: { units: 64 } }, { kwta: { percentOn: 1.2 } }, { dense: { units: 10, colour: 'red' } }, { softmaxCrossEntropy: {} }] };
    const r = checkModelText(JSON.stringify(bad, null, 2));
    const codec = decodeModel(bad);
    if (r.ok || E.isRight(codec)) throw new Error('expected problems');
    expect(r.problems).toEqual(codec.left);
    expect(r.problems).toEqual(['layers[1].kwta.percentOn: must be in (0, 1), got 1.2', 'layers[2].dense.colour: unknown field (known: units, weightDensity, dropconnect, bias, name)']);
  });

  it('JSON syntax errors are one line; models that cannot learn MNIST are refused as winnow train refuses them', () => {
    const syntax = checkModelText('{ "input": [784], }');
    expect(syntax.ok).toBe(false);
    if (!syntax.ok) {
      expect(syntax.problems).toHaveLength(1);
      expect(syntax.problems[0]).toMatch(/^JSON: /);
    }
    expect(checkModelJSON({ input: [100], layers: [{ dense: { units: 10 } }, { softmaxCrossEntropy: {} }] })).toEqual({ ok: false, problems: ["MNIST images have 784 values; the model's input [100] does not (use [784] or [1, 28, 28])"] });
    expect(checkModelJSON({ input: [784], layers: [{ dense: { units: 10 } }] })).toEqual({ ok: false, problems: ['the model must end with a softmaxCrossEntropy head to be trained'] });
    expect(checkModelJSON({ input: [784], layers: [{ dense: { units: 5 } }, { softmaxCrossEntropy: {} }] })).toEqual({ ok: false, problems: ['MNIST has 10 classes; the model must output 10 logits'] });
  });

  it('every preset is a valid MNIST model', () => {
    for (const p of presets) {
      const json = p.kind === 'dsl' ? evaluateSnippet(p.text) : JSON.parse(p.text);
      expect(checkModelJSON(json).ok, p.id).toBe(true);
    }
  });
});

describe('the controls', () => {
  it('offer weight density per weighted layer and percentOn and boosting per k-winners layer, at the model values', () => {
    const m = valid(example('sparse-mlp'));
    expect(knobsOf(m.network, m.summary).map((k) => `${k.layer} ${k.kind} ${k.value} [${k.min}, ${k.max}]`)).toEqual([
      '0 weightDensity 0.5 [0.05, 1]',
      '1 percentOn 0.1 [0.01, 0.66]',
      '1 boostStrength 1.5 [0, 5]',
      '1 boostStrengthFactor 0.85 [0, 1]',
      '2 weightDensity 0.5 [0.05, 1]',
      '3 percentOn 0.1 [0.01, 0.66]',
      '3 boostStrength 1.5 [0, 5]',
      '3 boostStrengthFactor 0.85 [0, 1]',
      '4 weightDensity 1 [0.05, 1]',
    ]);
  });

  it('edit the model file, which the compiler then sees: percentOn changes k, replaces a k, and leaves the rest alone', () => {
    const json = example('sparse-mlp');
    const m = valid(json);
    const knob = knobsOf(m.network, m.summary).find((k) => k.kind === 'percentOn' && k.layer === 3)!;
    const edited = valid(applyKnob(json, knob, 0.05));
    expect(kwtaOps(edited)).toEqual([{ layer: 1, k: 100, n: 1000 }, { layer: 3, k: 50, n: 1000 }]);
    expect((edited.json as { layers: unknown[] }).layers[3]).toEqual({ kwta: { percentOn: 0.05, kInferenceFactor: 1.5, boost: { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 } } });
    expect(json).toEqual(example('sparse-mlp')); // a copy was edited
    // a layer given k: the knob shows k / n and setting it replaces k
    const withK = { input: [784], layers: [{ dense: { units: 200 } }, { kwta: { k: 30 } }, { dense: { units: 10 } }, { softmaxCrossEntropy: {} }] };
    const mk = valid(withK);
    const pk = knobsOf(mk.network, mk.summary).find((k) => k.kind === 'percentOn')!;
    expect(pk.value).toBe(0.15);
    const replaced = valid(applyKnob(withK, pk, 0.2));
    expect((replaced.json as { layers: unknown[] }).layers[1]).toEqual({ kwta: { percentOn: 0.2 } });
    expect(kwtaOps(replaced)).toEqual([{ layer: 1, k: 40, n: 200 }]);
  });

  it('weight density and boosting: a boost knob on a layer without boosting adds it, the factor alone with strength 0', () => {
    const json = { input: [784], layers: [{ dense: { units: 100 } }, { kwta: { percentOn: 0.1 } }, { dense: { units: 10 } }, { softmaxCrossEntropy: {} }] };
    const m = valid(json);
    const knob = (kind: string) => knobsOf(m.network, m.summary).find((k) => k.kind === kind && k.layer <= 1)!;
    expect(valid(applyKnob(json, knob('weightDensity'), 0.25)).summary.layers[0].nonzeroParams).toBe(100 * 196 + 100);
    expect(valid(applyKnob(json, knob('boostStrengthFactor'), 0.5)).network.layers[1]).toMatchObject({ boost: { strength: 0, strengthFactor: 0.5, dutyCyclePeriod: 1000 } });
    expect(valid(applyKnob(json, knob('boostStrength'), 2)).network.layers[1]).toMatchObject({ boost: { strength: 2, strengthFactor: 0.85 } });
  });
});

describe('the training settings form', () => {
  const limits = { train: 6000, test: 1000 };
  const defaults = Object.fromEntries(settingFields.map((f) => [f.id, f.kind === 'boolean' ? (f.fallback as boolean) : String(f.fallback)]));

  it('reads the defaults, and takes the model file training section', () => {
    expect(readSettings(defaults, 'cpu', limits)).toEqual({
      ok: true,
      settings: { backend: 'cpu', trainImages: 6000, testImages: 1000, epochs: 1, batchSize: 64, lr: 0.03, lrGamma: 0.8, momentum: 0.9, weightDecay: 0, evalEvery: 20, seed: 1, noise: true },
    });
    expect(trainingValues({ epochs: 3, batchSize: 64, firstEpochBatchSize: 16, lr: 0.01 })).toEqual({ epochs: 3, batchSize: 64, lr: 0.01 });
  });

  it('a bad value is one line naming the field and its rule', () => {
    expect(readSettings({ ...defaults, batchSize: '0' }, 'cpu', limits)).toEqual({ ok: false, problem: 'batch size: must be an integer from 1 to 1024, got "0"' });
    expect(readSettings({ ...defaults, trainImages: '7000' }, 'cpu', limits)).toEqual({ ok: false, problem: 'training images: must be an integer from 1 to the bundled count (6000 bundled), got "7000"' });
    expect(readSettings({ ...defaults, lr: 'fast' }, 'cpu', limits)).toEqual({ ok: false, problem: 'learning rate: must be a number > 0, got "fast"' });
    expect(readSettings({ ...defaults, momentum: '' }, 'cpu', limits)).toEqual({ ok: false, problem: 'momentum: must be a number in [0, 1), got nothing' });
  });
});

describe('the backend choice', () => {
  const status = (name: BackendStatus['name'], available: boolean, software = false, detail = ''): BackendStatus => ({ name, available, software, detail });

  it('prefers hardware WebGPU, then hardware WebGL2, then cpu; a software renderer is not preferred', () => {
    const cpu = status('cpu', true);
    expect(preferredBackend([status('gpujs:webgpu', true, false, 'hardware adapter'), status('gpujs:webgl2', true, false, 'ANGLE (NVIDIA)'), cpu]).name).toBe('gpujs:webgpu');
    expect(preferredBackend([status('gpujs:webgpu', false, false, 'navigator.gpu gives no adapter'), status('gpujs:webgl2', true, false, 'ANGLE (NVIDIA)'), cpu])).toEqual({
      name: 'gpujs:webgl2',
      why: 'WebGL2 on ANGLE (NVIDIA); no WebGPU: navigator.gpu gives no adapter',
    });
    expect(preferredBackend([status('gpujs:webgpu', true, true, 'software adapter'), status('gpujs:webgl2', true, true, 'SwiftShader'), cpu])).toEqual({
      name: 'cpu',
      why: 'no GPU: WebGPU only on a software adapter; WebGL2 renders on SwiftShader, a software renderer: the CPU fallback',
    });
    expect(preferredBackend([status('gpujs:webgpu', false, false, 'no'), status('gpujs:webgl2', false, false, 'no'), status('cpu', false), status('reference', true)]).name).toBe('reference');
  });

  it('probes through resolveBackend: unavailability reasons, hardware WebGPU only when auto picks it, the WebGL2 renderer', async () => {
    const statuses = await probeBackends({
      resolveBackend: async (name) => {
        if (name === 'gpujs:webgpu') throw new WinnowError('backend', 'backend "gpujs:webgpu" is not available here: navigator.gpu gives no adapter');
        return { name: name === 'auto' ? 'cpu' : name };
      },
      webgl2Renderer: () => 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)',
    });
    expect(statuses.map((s) => [s.name, s.available, s.software, s.detail.slice(0, 30)])).toEqual([
      ['gpujs:webgpu', false, false, 'navigator.gpu gives no adapter'],
      ['gpujs:webgl2', true, true, 'ANGLE (Google, Vulkan 1.3.0 (S'],
      ['cpu', true, false, ''],
      ['reference', true, false, ''],
    ]);
  });
});
