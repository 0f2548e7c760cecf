import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../runtime/checkpoint/checkpoint.ts';
import { winnow } from './helpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'winnow-cli-'));
const quick = ['--train-limit', '256', '--test-limit', '100'];

describe('winnow train / eval', () => {
  const dir = join(tmp(), 'run');

  it('trains, writes a checkpoint and prints the JSON summary', () => {
    const r = winnow(['train', 'examples/models/sparse-mlp.json', '--epochs', '1', '--out', dir, '--json', '--lr', '0.05', '--train-limit', '512', '--test-limit', '100']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.checkpoint).toBe(dir);
    expect(j.epochs).toHaveLength(1);
    expect(Object.keys(j.epochs[0])).toEqual(expect.arrayContaining(['epoch', 'loss', 'testAccuracy', 'seconds', 'samplesPerSecond']));
    expect(j.epochs[0].testAccuracy).toBeGreaterThan(0.1);
    expect(r.stderr).toMatch(/epoch 1\/1 {2}loss \d\.\d{4} {2}train [\d.]+% {2}test [\d.]+%/);
    expect(loadCheckpoint(dir).meta.progress.epochsDone).toBe(1);
    // the default backend is auto; the header says what it chose and why, the checkpoint records it
    expect(r.stderr).toMatch(/^training examples\/models\/sparse-mlp\.json on (reference|cpu|gpujs:webgpu) \(auto: [^)]+\): 1 epochs/m);
    expect(j.backend.why).toMatch(/^auto: /);
    expect(loadCheckpoint(dir).meta.backend).toBe(j.backend.name);
  });

  it('evaluates a checkpoint with the noise test', () => {
    const r = winnow(['eval', dir, '--noise', '--json', '--test-limit', '100']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.noise.levels).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]);
    expect(j.noise.accuracy).toHaveLength(11);
    expect(j.noise.score).toBe(j.noise.correct.reduce((a: number, b: number) => a + b, 0));
    expect(j.noise.accuracy[0]).toBe(j.accuracy);
    expect(j.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(100);
    expect(j.backend.name).toMatch(/^(reference|cpu|gpujs:webgpu)$/); // auto picks one of these
    const text = winnow(['eval', dir, '--noise', '--test-limit', '100', '--backend', 'reference']);
    expect(text.stdout).toMatch(/, reference backend \(requested\)\n/);
    expect(text.stdout).toMatch(/test accuracy: [\d.]+% \(\d+ of 100\)/);
    expect(text.stdout).toMatch(/noise score: [\d,]+ of 1,100/);
  });

  it('inspect reads the model of a checkpoint directory', () => {
    const r = winnow(['inspect', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).totals).toEqual({ params: 1_796_010, nonzeroParams: 904_010 });
    const notCheckpoint = winnow(['inspect', tmp()]);
    expect(notCheckpoint.code).toBe(2);
    expect(notCheckpoint.stderr).toMatch(/is a directory without a checkpoint, not a model file/);
  });

  it('resumes to a later epoch', () => {
    const r = winnow(['train', '--resume', dir, '--epochs', '2', '--json', '--test-limit', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    const again = winnow(['train', '--resume', dir, '--epochs', '2']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already has 2 epochs; pass --epochs greater than that');
  });

  it('bad flags, missing files and unavailable backends get one clear line and exit code 2', () => {
    for (const [args, message] of [
      [['train', 'examples/models/dense-mlp.json', '--epochs', 'abc'], /--epochs must be a positive integer, got "abc"/],
      [['train', 'examples/models/dense-mlp.json', '--lr=-1'], /--lr must be a finite number > 0, got -1/],
      [['train', 'examples/models/dense-mlp.json', '--lr', '-1'], /Option '--lr' argument is ambiguous/],
      [['train', 'examples/models/dense-mlp.json', '--momentum', '1.5'], /--momentum must be in \[0, 1\), got 1\.5/],
      [['train', 'examples/models/dense-mlp.json', '--epochs'], /--epochs/],
      [['train', 'examples/models/dense-mlp.json', '--backend', 'gpu', ...quick], /^winnow train: --backend must be one of auto, reference, cpu, gpujs:webgpu, gpujs:webgl2, gpujs:headlessgl, gpujs:webasm, gpujs:cpu, got "gpu"$/m],
      [['eval', dir, '--backend', 'webgpu'], /^winnow eval: --backend must be one of auto, reference, .*, got "webgpu"$/m],
      [['train', 'missing.json'], /missing\.json: no such file/],
      [['train'], /expects <model> \(or --resume <checkpoint-dir>\)/],
      [['eval', join(tmp(), 'nothing')], /checkpoint .*nothing/],
      [['eval', dir, '--test-limit', '0'], /--test-limit must be a positive integer, got 0/],
      // a bad --out fails at once, before any training
      [['train', 'examples/models/dense-mlp.json', '--out', 'package.json', ...quick], /checkpoint package\.json: exists but is not a directory/],
      [['train', 'examples/models/dense-mlp.json', '--out', '/proc/winnow/run', ...quick], /checkpoint \/proc\/winnow\/run: cannot create the directory/],
    ] as const) {
      const r = winnow(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a corrupt checkpoint is refused by eval with a clear message', () => {
    const copy = join(tmp(), 'run');
    const r = winnow(['train', 'examples/models/dense-mlp.json', '--epochs', '1', '--out', copy, ...quick]);
    expect(r.code, r.stderr).toBe(0);
    const bin = join(copy, readdirSync(copy).find((f) => f.endsWith('.bin'))!);
    const bytes = readFileSync(bin);
    bytes[bytes.length - 5] ^= 0x55;
    writeFileSync(bin, bytes);
    const e = winnow(['eval', copy]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/checksum mismatch/);
    expect(e.stderr).not.toMatch(/\n\s+at /);
  });
});

/** Starts `winnow train` in the background. */
const start = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, ['runtime/bin/winnow.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (f: () => boolean, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
};

describe('winnow train under kill -9 and Ctrl-C', () => {
  it('kill -9 at any moment (checkpoint writes included) leaves a loadable checkpoint', async () => {
    const dir = join(tmp(), 'run');
    // Tiny epochs: a checkpoint (~14 MB of weights and momentum) is written every few hundred ms.
    const run = start(['train', 'examples/models/dense-mlp.json', '--epochs', '10000', '--train-limit', '64', '--test-limit', '10', '--out', dir]);
    try {
      await waitFor(() => existsSync(join(dir, 'manifest.json')));
      for (let i = 0; i < 6; i++) {
        await sleep(50 + Math.random() * 250);
        const before = readdirSync(dir).length;
        expect(before).toBeGreaterThan(0);
        run.child.kill('SIGSTOP'); // freeze it wherever it is, check, then let it go on
        const loaded = loadCheckpoint(dir);
        expect(loaded.meta.progress.epochsDone).toBeGreaterThan(0);
        run.child.kill('SIGCONT');
      }
    } finally {
      run.child.kill('SIGKILL');
    }
    await run.exited;
    const last = loadCheckpoint(dir);
    expect(last.meta.progress.epochsDone).toBeGreaterThan(0);
    // and it can be continued
    const r = winnow(['train', '--resume', dir, '--epochs', String(last.meta.progress.epochsDone + 1), '--test-limit', '10']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('trains a batch-norm network on the cpu backend: running statistics move, and eval uses them', () => {
    const dir = join(tmp(), 'bn');
    const r = winnow(['train', 'test/fixtures/models/bn-cnn.json', '--backend', 'cpu', '--epochs', '1', '--batch', '16', '--train-limit', '64', '--test-limit', '32', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.backend.name).toBe('cpu');
    expect(Number.isFinite(j.epochs[0].loss)).toBe(true);
    const { state } = loadCheckpoint(dir);
    for (const layer of [1, 5]) {
      expect(Array.from(state.tensors.get(`l${layer}.runningMean`)!.data).some((v) => v !== 0), `l${layer}.runningMean`).toBe(true);
      expect(Array.from(state.tensors.get(`l${layer}.runningVar`)!.data).some((v) => v !== 1), `l${layer}.runningVar`).toBe(true);
    }
    expect(Array.from(state.tensors.get('l1.gamma')!.data).some((v) => v !== 1)).toBe(true);
    const e = winnow(['eval', dir, '--backend', 'cpu', '--test-limit', '32', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(32);
  });

  it('Ctrl-C saves a checkpoint before exiting, and training resumes from it', async () => {
    const dir = join(tmp(), 'run');
    const run = start(['train', 'examples/models/dense-mlp.json', '--epochs', '2', '--train-limit', '1024', '--test-limit', '10', '--out', dir]);
    await waitFor(() => run.stdout().includes('training '), 60_000); // the header: training has started
    await sleep(1000);
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code).toBe(130);
    expect(run.stderr()).toContain(`checkpoint saved to ${dir}; continue with: winnow train --resume ${dir}`);
    const saved = loadCheckpoint(dir);
    expect(saved.meta.progress.step).toBeGreaterThan(0);
    const r = winnow(['train', '--resume', dir, '--test-limit', '10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
  });
});
