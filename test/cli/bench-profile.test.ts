/**
 * `winnow bench --profile`: one cpu training step broken into its kernels, on a small sparse MLP so
 * the test is quick. Times themselves are not checked (they depend on the machine); what is: every
 * kernel of the compiled training program is listed once, in program order in the JSON and by
 * time in the table, with shares of the step that add up, and the forms the compiler chose.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { cpuCompileOptions } from '../../runtime/cpu/layout.ts';
import { winnow } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'winnow-profile-'));
const model = join(tmp, 'small-sparse.json');
writeFileSync(
  model,
  JSON.stringify({
    input: [784],
    layers: [{ dense: { units: 64, weightDensity: 0.3 } }, { kwta: { k: 8, boost: { strength: 1.5 } } }, { dense: { units: 10 } }, { softmaxCrossEntropy: {} }],
  }),
);

describe('winnow bench --profile', () => {
  it('--json: every kernel of the cpu training program, in program order, with times and shares of the step', () => {
    const r = winnow(['bench', '--profile', '--model', model, '--steps', '3', '--json'], { env: { WINNOW_THREADS: '1' } });
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    const compiled = compile(lower(trace(readModelFile(model))), { program: 'train', batch: 64, ...cpuCompileOptions });
    expect(p.kernels.map((k: { name: string }) => k.name)).toEqual(compiled.schedule.kernels.map((k) => k.name));
    expect(p.kernels.map((k: { ops: string }) => k.ops)).toContain('kwtaCompact');
    expect(p).toMatchObject({ backend: 'cpu', threads: 1, batch: 64, steps: 3 });
    for (const k of p.kernels) {
      expect(k.meanMs).toBeGreaterThanOrEqual(k.minMs);
      expect(k.minMs).toBeGreaterThanOrEqual(0);
    }
    const shares = p.kernels.reduce((a: number, k: { share: number }) => a + k.share, 0) + (p.hostMs + p.copyMs) / p.stepMs;
    expect(shares).toBeGreaterThan(0.5);
    expect(shares).toBeLessThanOrEqual(1.000001);
    expect(p.samplesPerSecond).toBeCloseTo((64 * 1000) / p.stepMs, 6);
    expect(p.forms.join('\n')).toMatch(/k-winners layer 1 \(8 of 64, 12\.5% active\): compact/);
  });

  it('the table: kernels by time, most first, with the cumulative share and the step', () => {
    const r = winnow(['bench', '--profile', '--model', model, '--steps', '2'], { env: { WINNOW_THREADS: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^profile of one cpu training step: .*small-sparse\.json, batch 64, 1 thread, 2 steps after 5 warm-up/);
    expect(r.stdout).toMatch(/^form: k-winners layer 1 /m);
    expect(r.stdout).toMatch(/^kernel\s+ops\s+ms\/step\s+min ms\s+share\s+cumulative$/m);
    const rows = r.stdout.split('\n').filter((l) => /^k\d+_/.test(l));
    expect(rows.length).toBeGreaterThan(10);
    const times = rows.map((l) => Number(l.trim().split(/\s+/)[2]));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(rows[rows.length - 1]).toMatch(/\d+\.\d%$/);
    expect(r.stdout).toMatch(/^host inputs \d+\.\d+ ms, copy-backs \d+\.\d+ ms; step \d+\.\d+ ms = [\d,]+ samples\/s$/m);
  });

  it('another backend, or --repetitions, is refused in one line', () => {
    for (const [args, message] of [
      [['--backend', 'reference'], "winnow bench: --profile times the cpu backend's kernels; --backend reference is not cpu"],
      [['--repetitions', '2'], 'winnow bench: --repetitions does not apply with --profile (use --steps)'],
    ] as const) {
      const r = winnow(['bench', '--profile', '--model', model, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(message);
    }
  });
});
