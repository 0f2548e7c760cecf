/**
 * Generated sources are built from numbers and compiler-made identifiers only: no text from a
 * model file (its name, description or layer names) may reach a kernel, since generated text is
 * compiled and run. A model full of canary names and a hostile description must generate exactly
 * the sources of the same model without them, on every backend that generates code.
 */
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { modelFromJSON } from '../../dsl/index.ts';
import { standaloneEntry } from '../../runtime/aot/build.ts';
import { kernelSourceBackends, openKernelSources, type SourceFile } from '../../runtime/kernel-sources.ts';
import { initModelState } from '../../runtime/model-state.ts';

const canary = 'Zq9canary';
const description = `${canary} */ }); globalThis.pwned = 1; (function(){ // </script> ;; (module) "\\u0000 \`\${process.exit(1)}\``;

/** A small network using every layer kind, each named with the canary when `named`. */
const model = (named: boolean) => {
  const n = (i: number) => (named ? { name: `${canary}_layer${i}` } : {});
  return {
    format: 'winnow.model/1',
    ...(named ? { name: `${canary}_model`, description } : {}),
    input: [1, 12, 12],
    layers: [
      { conv2d: { filters: 4, kernel: 3, weightDensity: 0.5, ...n(0) } },
      { batchNorm: { ...n(1) } },
      { maxPool2d: { size: 2, ...n(2) } },
      { kwta: { percentOn: 0.25, boost: { strength: 1.5 }, ...n(3) } },
      { flatten: { ...n(4) } },
      { dense: { units: 16, weightDensity: 0.5, dropconnect: 0.2, ...n(5) } },
      { batchNorm: { affine: false, ...n(6) } },
      { relu: { ...n(7) } },
      { dropout: { rate: 0.5, ...n(8) } },
      { dense: { units: 5, ...n(9) } },
      { softmaxCrossEntropy: { ...n(10) } },
    ],
  };
};

const sourcesOf = async (backend: string, json: unknown): Promise<SourceFile[]> => {
  const net = modelFromJSON(json);
  const opened = await openKernelSources(backend, lower(trace(net)));
  try {
    const files: SourceFile[] = [];
    for (const program of ['train', 'inference', 'epochEnd'] as const) {
      const s = await opened.sources(program, 8);
      files.push(...s.files, { name: `${program} kernel names`, language: 'text', text: s.kernels.join('\n') });
    }
    return files;
  } finally {
    opened.dispose();
  }
};

describe('generated sources never contain text from the model file', () => {
  it('the canary model decodes with its names (so the test means something)', () => {
    const net = modelFromJSON(model(true));
    expect(net.name).toBe(`${canary}_model`);
    expect(net.layers.filter((l) => l.name?.startsWith(canary))).toHaveLength(11);
  });

  for (const backend of kernelSourceBackends()) {
    it(`${backend}: no canary in any program's sources, and the sources equal those of the unnamed model`, async () => {
      const named = await sourcesOf(backend, model(true));
      expect(named.length).toBeGreaterThanOrEqual(6);
      for (const f of named) {
        expect(f.text.toLowerCase(), f.name).not.toContain(canary.toLowerCase());
        expect(f.text, f.name).not.toContain('pwned');
      }
      expect(named).toEqual(await sourcesOf(backend, model(false)));
    });
  }

  // A gpujs build embeds each program (kernel sources, kernel and state names, bindings) as JSON
  // text; with the module's name given apart, the entry of the canary model is the unnamed one's.
  it('winnow build --backend gpujs:*: no canary in the module entry, which equals the unnamed model\'s', async () => {
    const entry = async (named: boolean) => {
      const lowered = lower(trace(modelFromJSON(model(named))));
      const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
      return standaloneEntry(lowered, state, { name: 'm', batch: 8, inferenceOnly: false, rng: [1, 2, 3, 4], backend: 'gpujs:webgpu' });
    };
    const named = await entry(true);
    expect(named).toContain('"source":"function (');
    expect(named.toLowerCase()).not.toContain(canary.toLowerCase());
    expect(named).not.toContain('pwned');
    expect(named).toEqual(await entry(false));
  });
});
