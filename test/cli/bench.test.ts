import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchTable } from '../../runtime/cli/bench.ts';
import { winnow } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'winnow-bench-'));

describe('winnow bench', () => {
  it('measures the cpu backend briefly and writes the JSON results', () => {
    const out = join(tmp, 'sub', 'results.json');
    const r = winnow(['bench', '--backend', 'cpu', '--steps', '1', '--repetitions', '1', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(existsSync(out)).toBe(true);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(j);
    expect(j.cpus).toBe(cpus().length);
    expect(j.results).toHaveLength(1);
    const cpu = j.results[0];
    expect(cpu.backend).toBe('cpu');
    expect(cpu.train).toMatchObject({ batch: 64, calls: 1, repetitions: 1 });
    expect(cpu.train.samplesPerSecond).toBeGreaterThan(0);
    expect(cpu.inference.batch).toBe(1000);
    expect(cpu.inference.samplesPerSecond).toBeGreaterThan(0);
    expect(j.ratio).toBeUndefined();
    expect(r.stderr).toMatch(/^cpu: train \d+ samples\/s, inference \d+ samples\/s/m);
  });

  it('prints a table with the cpu/reference ratio and skipped backends', () => {
    const run = (backend: string, train: number, inference: number) => ({
      backend,
      train: { batch: 64, calls: 5, repetitions: 3, samplesPerSecond: train, runs: [train * 0.9, train, train * 1.1] },
      inference: { batch: 1000, calls: 1, repetitions: 3, samplesPerSecond: inference, runs: [inference, inference, inference] },
      seconds: 1,
    });
    const text = benchTable({
      model: 'examples/models/dense-mlp.json',
      date: '2025-01-01T00:00:00.000Z',
      node: 'v20.0.0',
      platform: 'linux x64',
      cpus: 2,
      cpuModel: 'Some CPU',
      results: [run('reference', 200, 500), run('cpu', 1500, 4000), { backend: 'gpujs:webasm', skipped: 'no gpu.js here' }],
      ratio: { train: 7.5, inference: 8 },
      seconds: 42,
    });
    expect(text).toContain('os.cpus().length = 2 (Some CPU)');
    expect(text).toMatch(/^reference\s+200\s+180-220\s+3 x 5\s+500\s+1\.00x$/m);
    expect(text).toMatch(/^cpu\s+1,500\s+1,350-1,650\s+3 x 5\s+4,000\s+7\.50x$/m);
    expect(text).toMatch(/^gpujs:webasm .*skipped: no gpu\.js here$/m);
    expect(text).toContain('cpu / reference: training 7.50x, inference 8.00x');
  });

  it('bad flags and unusable models get one line and exit code 2', () => {
    const tiny = join(tmp, 'tiny.json');
    writeFileSync(tiny, JSON.stringify({ input: [4], layers: [{ dense: { units: 10 } }, { softmaxCrossEntropy: {} }] }));
    writeFileSync(join(tmp, 'file'), '');
    for (const [args, message] of [
      [['bench', '--backend', 'nope'], /--backend must be a comma-separated list of reference, cpu, .*got "nope"/],
      [['bench', '--backend', 'cpu,cpu'], /--backend names a backend twice/],
      [['bench', '--backend', 'auto'], /got "auto"/],
      [['bench', '--steps', '0'], /--steps must be a positive integer, got 0/],
      [['bench', '--repetitions', 'x'], /--repetitions must be a positive integer, got "x"/],
      [['bench', '--model', tiny], /MNIST images have 784 values/],
      [['bench', '--model', join(tmp, 'missing.json')], /missing\.json: no such file/],
      [['bench', '--out', join(tmp, 'file', 'results.json')], /--out .*cannot write there/],
      [['bench', 'extra'], /expects no arguments, got "extra"/],
    ] as const) {
      const r = winnow(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
