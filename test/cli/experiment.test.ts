import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../runtime/checkpoint/checkpoint.ts';
import { readRunRecord } from '../../runtime/experiment/record.ts';
import { winnow } from './helpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'winnow-experiment-'));
const tiny = ['--networks', 'sparse-cnn1', '--train-limit', '64', '--test-limit', '20'];

describe('winnow experiment paper-mnist', () => {
  const dir = join(tmp(), 'exp');
  const record = join(dir, 'runs', 'sparse-cnn1-seed1.json');

  it('trains, noise-tests and writes one JSON per run and the HTML report', () => {
    const r = winnow(['experiment', 'paper-mnist', '--seeds', '1', '--epochs', '1', ...tiny, '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[1\/1\] sparse-cnn1 seed 1 on \S+ \(.+\): 1 epochs, batch 64 \(first epoch 4\), lr 0\.01 x0\.8\/epoch, momentum 0, 64 train \/ 20 test images$/m);
    expect(r.stdout).toMatch(/^ {2}epoch 1\/1 {2}loss \d\.\d{4} {2}train [\d.]+% {2}test [\d.]+%/m);
    expect(r.stdout).toMatch(/^\[1\/1\] sparse-cnn1 seed 1: test [\d.]+% \(best [\d.]+% at epoch 1\), noise score \d+ of 220, training [\d.]+ s -> /m);
    const rec = readRunRecord(record);
    expect(rec).toMatchObject({ network: 'sparse-cnn1', modelName: 'sparse_cnn1', seed: 1, data: { trainImages: 64, testImages: 20 }, params: { total: 650_440, nonzero: 196_840 } });
    expect(rec.hyperparameters).toEqual({ epochs: 1, batchSize: 64, firstEpochBatchSize: 4, lr: 0.01, lrGamma: 0.8, momentum: 0, weightDecay: 0, trainLimit: 64 });
    expect(rec.epochs).toHaveLength(1);
    expect(rec.final).toEqual({ epoch: 1, testAccuracy: rec.epochs[0].testAccuracy });
    expect(rec.noise.levels).toHaveLength(11);
    expect(rec.noise.accuracy[0]).toBe(rec.final.testAccuracy); // level 0 is the clean test set
    expect(rec.noise.score).toBe(rec.noise.correct.reduce((a, b) => a + b, 0));
    expect(rec.kwta.map((k) => [k.layer, k.units, k.k, k.perChannel, k.dutyCycles.length])).toEqual([[2, 4320, 400, true, 30], [5, 150, 50, false, 150]]);
    expect(rec.kwta[0].entropy).toBeGreaterThan(0); // the duty cycles moved during training
    expect(rec.timing.trainSeconds).toBeCloseTo(rec.epochs[0].seconds, 9);
    expect(loadCheckpoint(join(dir, 'checkpoints', 'sparse-cnn1-seed1')).meta.progress.epochsDone).toBe(1);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<table class="results">');
    expect(html).toContain(`<td>${(rec.final.testAccuracy * 100).toFixed(2)}%</td>`);
    expect(html.match(/<svg /g)!.length).toBeGreaterThanOrEqual(5); // noise curves, 2 training curves, 2 duty-cycle histograms
    expect(html).toContain('Not comparable with the paper');
    expect(r.stdout).toContain(`report of 1 runs: ${join(dir, 'report.html')}`);
  });

  it('skips a finished run, and only evaluates a trained run whose record is missing', () => {
    const before = readFileSync(record, 'utf8');
    const mtime = statSync(record).mtimeMs;
    const again = winnow(['experiment', 'paper-mnist', '--epochs', '1', ...tiny, '--out', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/sparse-cnn1 seed 1: done before \(.*sparse-cnn1-seed1\.json\)/);
    expect(again.stdout).not.toMatch(/epoch 1\/1/);
    expect(statSync(record).mtimeMs).toBe(mtime);
    rmSync(record);
    const evalOnly = winnow(['experiment', 'paper-mnist', '--epochs', '1', ...tiny, '--out', dir]);
    expect(evalOnly.code, evalOnly.stderr).toBe(0);
    expect(evalOnly.stdout).toContain('(trained before: evaluating its checkpoint)');
    expect(evalOnly.stdout).not.toMatch(/epoch 1\/1/);
    const old = JSON.parse(before);
    const now = readRunRecord(record);
    expect(now.noise).toEqual(old.noise);
    expect(now.epochs).toEqual(old.epochs);
    expect(now.kwta).toEqual(old.kwta);
  });

  it('refuses to mix settings in one directory, in one line', () => {
    const r = winnow(['experiment', 'paper-mnist', '--epochs', '2', ...tiny, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^winnow experiment: .*sparse-cnn1-seed1\.json was made with other settings \(epochs 1, now 2\): use another --out, or delete it to run again$/);
  });

  it('--report-only rebuilds the report from the records', () => {
    rmSync(join(dir, 'report.html'));
    const r = winnow(['experiment', 'paper-mnist', '--report-only', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`report of 1 runs: ${join(dir, 'report.html')} (also ${join(dir, 'noise-curves.svg')}, ${join(dir, 'summary.md')})`);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
  });

  it('continues an unfinished run from its checkpoint', () => {
    const d = join(tmp(), 'exp');
    const ckpt = join(d, 'checkpoints', 'sparse-cnn1-seed1');
    const t = winnow(['train', 'examples/models/sparse-cnn1.json', '--epochs', '1', '--seed', '1', '--train-limit', '64', '--test-limit', '20', '--out', ckpt]);
    expect(t.code, t.stderr).toBe(0);
    const first = loadCheckpoint(ckpt).meta.metrics[0];
    const r = winnow(['experiment', 'paper-mnist', '--epochs', '2', ...tiny, '--out', d]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(continuing from its checkpoint after epoch 1)');
    expect(r.stdout).not.toMatch(/epoch 1\/2/);
    expect(r.stdout).toMatch(/epoch 2\/2/);
    const rec = readRunRecord(join(d, 'runs', 'sparse-cnn1-seed1.json'));
    expect(rec.epochs.map((m) => m.epoch)).toEqual([1, 2]);
    expect(rec.epochs[0]).toEqual(first);
  });

  it('bad flags get one clear line and exit code 2', () => {
    const d = tmp();
    for (const [args, message] of [
      [['experiment', 'paper-cifar'], /^winnow experiment: unknown experiment "paper-cifar" \(experiments: paper-mnist\)$/],
      [['experiment'], /^winnow experiment: expects <name>, got none$/],
      [['experiment', 'paper-mnist', '--seeds', '0'], /^winnow experiment: --seeds must be a positive integer, got 0$/],
      [['experiment', 'paper-mnist', '--epochs', 'abc'], /^winnow experiment: --epochs must be a positive integer, got "abc"$/],
      [['experiment', 'paper-mnist', '--train-limit', '1.5'], /^winnow experiment: --train-limit must be a positive integer, got 1\.5$/],
      [['experiment', 'paper-mnist', '--backend', 'gpu'], /^winnow experiment: --backend must be one of auto, reference, .*, got "gpu"$/],
      [['experiment', 'paper-mnist', '--networks', 'dense-cnn3'], /^winnow experiment: --networks: unknown network "dense-cnn3" \(known: dense-cnn1, dense-cnn2, dense-cnn2-dropout, sparse-cnn1, sparse-cnn2\)$/],
      [['experiment', 'paper-mnist', '--report-only', '--seeds', '2', '--out', d], /^winnow experiment: --report-only takes only --out \(it reads the run records there\), got --seeds$/],
      [['experiment', 'paper-mnist', '--report-only', '--out', d], /^winnow experiment: .*: no run records \(.* does not exist\); run winnow experiment paper-mnist --out .* first$/],
      [['experiment', 'paper-mnist', '--test-limit', '20000', '--out', d], /^winnow experiment: --test-limit must be at most 10000 \(the MNIST test images\), got 20000$/],
      [['experiment', 'paper-mnist', '--train-limit', '60001', '--out', d], /^winnow experiment: --train-limit must be at most 60000 \(the MNIST training images\), got 60001$/],
      [['experiment', 'paper-mnist', '--out', 'package.json'], /^winnow experiment: --out package\.json: cannot create the directory/],
    ] as const) {
      const r = winnow(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
