import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { winnow } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'winnow-inspect-'));

describe('winnow inspect', () => {
  it('--json reports the right parameter counts for Sparse CNN-2', () => {
    const r = winnow(['inspect', 'examples/models/sparse-cnn2.json', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.totals).toEqual({ params: 776_606, nonzeroParams: 274_706 });
    expect(j.layers.map((l: { kind: string }) => l.kind)).toEqual([
      'conv2d', 'maxPool2d', 'kwta', 'conv2d', 'maxPool2d', 'kwta', 'flatten', 'dense', 'kwta', 'dense', 'softmaxCrossEntropy',
    ]);
    expect(j.layers[0]).toMatchObject({ kind: 'conv2d', outputShape: [32, 24, 24], params: 832, nonzeroParams: 832 });
    expect(j.layers[2]).toMatchObject({ kind: 'kwta', outputShape: [32, 12, 12], k: 400, kInference: 600 });
    expect(j.layers[5]).toMatchObject({ k: 300, kInference: 450 });
    expect(j.layers[7]).toMatchObject({ kind: 'dense', outputShape: [700], params: 717_500, nonzeroParams: 215_600 });
    expect(j.layers[8]).toMatchObject({ k: 100, kInference: 150 });
  });

  it('prints a table with totals, and the IR with --ir', () => {
    const r = winnow(['inspect', 'examples/models/sparse-mlp.json', '--ir']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kwta\s+\[1000\]\s+0\s+0\s+100 of 1000\s+150\s+1\.5 x0\.85\/epoch, period 1000/);
    expect(r.stdout).toMatch(/total\s+1,796,010\s+904,010/);
    expect(r.stdout).toContain('; stage: traced');
    expect(r.stdout).toContain('; stage: lowered (passes: inferShapes, validate, accountParams)');
  });

  it('loads a TypeScript module whose default export is a network', () => {
    const r = winnow(['inspect', 'examples/networks/sparse-cnn2.ts', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).totals).toEqual({ params: 776_606, nonzeroParams: 274_706 });
  });

  it('a corrupted model file gets every problem with its path, exit code 2 and no stack trace', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({
      input: [784],
      layers: [{ dense: { units: 1000, weightDensity: 0 } }, { relu: {} }, { dense: { units: 100 } }, { kwta: { percentOn: 1.2 } }, { dense: { units: 10, colour: 'red' } }],
    }));
    const r = winnow(['inspect', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('layers[0].dense.weightDensity: must be in (0, 1], got 0');
    expect(r.stderr).toContain('layers[3].kwta.percentOn: must be in (0, 1), got 1.2');
    expect(r.stderr).toContain('layers[4].dense.colour: unknown field');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('shape mismatches in a file name the layer and both shapes', () => {
    const bad = join(tmp, 'shape.json');
    writeFileSync(bad, JSON.stringify({ input: [1, 28, 28], layers: [{ conv2d: { filters: 4, kernel: 5 } }, { dense: { units: 10 } }] }));
    const r = winnow(['inspect', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('layers[1].dense: expects a vector input [n], got [4, 24, 24] (add flatten before it)');
  });

  it('bad JSON, missing files and bad flags get one clear line and exit code 2', () => {
    const yaml = join(tmp, 'model.yaml');
    writeFileSync(yaml, 'input: [784]\n');
    const notJson = join(tmp, 'nope.json');
    writeFileSync(notJson, '{ "input": [784], ');
    for (const [args, message] of [
      [['inspect', notJson], /nope\.json: not valid JSON/],
      [['inspect', join(tmp, 'missing.json')], /missing\.json: no such file/],
      [['inspect', 'examples/models/dense-mlp.json', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['inspect'], /expects <model>, got none/],
      [['inspect', yaml], /expected a \.json model file or a \.ts\/\.js module/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ] as const) {
      const r = winnow(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
