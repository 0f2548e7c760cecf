import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { winnow } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'winnow-inspect-kernels-'));

describe('winnow inspect --kernels', () => {
  it('prints every stage, then the cpu sources of each program with its kernel count', () => {
    const r = winnow(['inspect', 'examples/models/dense-mlp.json', '--kernels']);
    expect(r.code, r.stderr).toBe(0);
    const order = [
      '; stage: traced',
      '; stage: lowered (passes: inferShapes, validate, accountParams)',
      '; stage: compiled train (passes: decompose, autodiff, optimizer, sparseForms, fuse, planBuffers; batch 64)',
      // the cpu backend's choices, per layer, with the reason
      '; form: dense layer 0 on the input (784 values, assumed 25% off the background): compact: background-skipping gather',
      '; form: dense layer 2: dense: its input (relu) has no density the compiler knows',
      '; stage: compiled inference (passes: decompose, sparseForms, fuse, planBuffers; batch 64)',
      '; stage: compiled epochEnd (passes: epochEnd, fuse, planBuffers; batch 64)',
      '; cpu sources of program train (batch 64): 21 kernels: k0_compactInput, k1_transpose, k2_gather_biasAdd_relu, k3_linear_biasAdd_relu, ',
      '; --- train.js ---',
      '  function k0_compactInput(M, lo = 0, hi = 64) {',
      '; --- train.wat ---',
      '(module',
      '; cpu sources of program inference (batch 64): 5 kernels: k0_compactInput, k1_transpose, k2_gather_biasAdd_relu, k3_linear_biasAdd_relu, k4_linear_biasAdd',
      '; cpu sources of program epochEnd (batch 64): 0 kernels',
      '; kernels per program on cpu: train 21, inference 5, epochEnd 0',
    ];
    let at = 0;
    for (const s of order) {
      const i = r.stdout.indexOf(s, at);
      expect(i, `${JSON.stringify(s)} after offset ${at}`).toBeGreaterThanOrEqual(0);
      at = i + s.length;
    }
  });

  it('--backend gpujs:webasm prints one gpu.js kernel per schedule kernel (no gpu.js needed)', () => {
    const r = winnow(['inspect', 'examples/models/dense-mlp.json', '--kernels', '--backend', 'gpujs:webasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('; gpujs:webasm sources of program train (batch 64): 19 kernels: k0_linear_biasAdd_relu, ');
    expect(r.stdout).toContain('; --- k0_linear_biasAdd_relu ---');
    expect(r.stdout).toContain('function (v0, v1, v2) {');
    expect(r.stdout).toContain('this.thread.x');
    expect(r.stdout).toContain('; kernels per program on gpujs:webasm: train 19, inference 3, epochEnd 0');
  });

  it('--batch compiles for that batch; --json carries the stages and the sources', () => {
    const r = winnow(['inspect', 'examples/models/sparse-mlp.json', '--kernels', '--batch', '8', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kernels.backend).toBe('cpu');
    expect(j.kernels.batch).toBe(8);
    // at batch 8 the first layer's transpose is shared by too few samples to skip the background, and index lists of 50% weights do not pay: it stays dense; the k-winners layers go compact
    expect(j.kernels.programs.map((p: { program: string; count: number }) => [p.program, p.count])).toEqual([['train', 25], ['inference', 7], ['epochEnd', 2]]);
    expect(j.ir.compiled.train).toMatch(/; form: dense layer 0 on the input \(784 values, assumed 25% off the background\) with sparse weights \(50% = 392 of 784 kept per unit\): dense: 196k vs \d+k background-skipping gather, \d+k index lists/);
    expect(j.ir.compiled.train).toContain('; form: k-winners layer 1 (100 of 1000, 10% active): compact: winners as index lists');
    expect(j.ir.compiled.train).toContain('; stage: compiled train');
    expect(j.ir.compiled.train).toContain('batch 8');
    const js = j.kernels.programs[1].files.find((f: { language: string }) => f.language === 'js').text;
    expect(js).toContain('(M, lo = 0, hi = 8) {');
    expect(j.totals.params).toBe(1_796_010);
  });

  it('a batch-norm network compiles on both code generators (batch statistics at training, running statistics at inference)', () => {
    const bn = join(tmp, 'bn.json');
    writeFileSync(bn, JSON.stringify({ input: [1, 8, 8], layers: [{ conv2d: { filters: 2, kernel: 3 } }, { batchNorm: {} }, { flatten: {} }, { dense: { units: 3 } }, { softmaxCrossEntropy: {} }] }));
    for (const backend of ['cpu', 'gpujs:webasm']) {
      const r = winnow(['inspect', bn, '--kernels', '--backend', backend]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/k\d+_batchMean/);
      expect(r.stdout).toMatch(/k\d+_normalizeGradX/);
      expect(r.stdout).toContain(`; ${backend} sources of program inference (batch 64): 2 kernels: k0_conv_biasAdd_normalize, k1_linear_biasAdd`);
    }
  });

  it('bad flags get one line and exit code 2', () => {
    const model = 'examples/models/dense-mlp.json';
    for (const [args, message] of [
      [['inspect', model, '--kernels', '--backend', 'reference'], /--backend reference: the reference backend interprets the IR and generates no kernels/],
      [['inspect', model, '--kernels', '--backend', 'nope'], /--backend must be one of reference, cpu, /],
      [['inspect', model, '--kernels', '--backend', 'auto'], /--backend must be one of reference, cpu, /],
      [['inspect', model, '--kernels', '--batch', '0'], /--batch must be an integer in \[1, 65536\], got 0/],
      [['inspect', model, '--kernels', '--batch', 'abc'], /--batch must be an integer in \[1, 65536\], got "abc"/],
      [['inspect', model, '--kernels', '--batch', '100000'], /--batch must be an integer in \[1, 65536\], got 100000/],
      [['inspect', model, '--backend', 'cpu'], /--backend applies only with --kernels/],
      [['inspect', model, '--batch', '8'], /--batch applies only with --kernels/],
    ] as const) {
      const r = winnow(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});
