// `npm run bench` (bench/run.mjs -> bench/compare.ts): the results file, targets, table and README
// section, and one tiny real run of winnow cpu against TF.js in worker processes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchModels, contenders } from '../../bench/catalog.ts';
import { main } from '../../bench/compare.ts';
import { evaluateTargets, formatResults, median, readmeMarkers, readmeSection, replaceReadmeSection, type BenchResults, type Measurement } from '../../bench/report.ts';

const tmp = mkdtempSync(join(tmpdir(), 'winnow-bench-tfjs-'));
const bench = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ['bench/run.mjs', ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const run = (contender: Measurement['contender'], model: Measurement['model'], train: number, inference: number, rssMiB: number, threads?: number): Measurement => ({
  contender,
  model,
  plan: { warmup: 1, steps: 10, inferenceCalls: 1, repetitions: 3 },
  train: { batch: 64, calls: 10, samplesPerSecond: train, runs: [train, train * 1.1, train * 0.9] },
  inference: { batch: 1000, calls: 1, samplesPerSecond: inference, runs: [inference, inference, inference] },
  peakRssBytes: rssMiB * 2 ** 20,
  setupSeconds: 1,
  lastLoss: 0.5,
  info: threads === undefined ? {} : { threads },
});

const fake = (results: Measurement[]): BenchResults => ({
  schema: 'winnow.bench/2',
  date: '2026-01-01T00:00:00.000Z',
  node: 'v20.0.0',
  platform: 'linux x64',
  cpuModel: 'Some CPU',
  cores: 2,
  quick: false,
  batch: 64,
  inferenceBatch: 1000,
  tfjs: { version: '4.22.0', backend: 'wasm', threads: 1, simd: true },
  models: benchModels,
  contenders,
  results,
  targets: evaluateTargets(results, ['dense', 'dropout', 'sparse']),
  seconds: 100,
});

describe('npm run bench: report', () => {
  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('evaluates the targets against TF.js at its best, met and missed, and null when unmeasured', () => {
    const results = [
      run('cpu', 'dense', 3000, 9000, 100),
      run('tfjs-best', 'dense', 1600, 5000, 120),
      run('cpu', 'sparse', 9000, 16000, 130),
      run('tfjs-best', 'sparse', 1000, 4000, 120),
      { contender: 'tfjs-best', model: 'dropout', error: 'boom' } as const,
      run('cpu', 'dropout', 2000, 9000, 100),
    ];
    const t = Object.fromEntries(evaluateTargets(results, ['dense', 'dropout', 'sparse']).map((x) => [x.id, x]));
    expect(t['dense-train']).toMatchObject({ value: 3000 / 1600, met: true, threshold: 1.5 });
    expect(t['sparse-train']).toMatchObject({ value: 9, met: false, threshold: 10 });
    expect(t['sparse-train-vs-dense']).toMatchObject({ value: 9000 / 1600, met: true });
    expect(t['sparse-inference-vs-dense']).toMatchObject({ value: 16000 / 5000, met: true });
    expect(t['memory-dense']).toMatchObject({ comparison: '<=', met: true });
    expect(t['memory-sparse']).toMatchObject({ value: 130 / 120, met: false });
    expect(t['memory-dropout']).toMatchObject({ value: null, met: null });
  });

  it('prints a table with ratios against TF.js best, errors, and the targets', () => {
    const text = formatResults(fake([run('cpu', 'dense', 3000, 9000, 100, 2), run('tfjs-best', 'dense', 1500, 4500, 120, 1), { contender: 'gpujs:webasm', model: 'dense', error: 'no gpu.js here' }]));
    expect(text).toContain('2 cores (os.availableParallelism()), Some CPU');
    expect(text).toContain('TF.js 4.22.0 wasm (SIMD), 1 thread');
    expect(text).toMatch(/^dense\s+winnow cpu\s+3,000\s+2\.00x\s+9,000\s+2\.00x\s+100\s+2\s+3 x 10$/m);
    expect(text).toMatch(/^dense\s+TF\.js wasm best\s+1,500\s+1\.00x\s+4,500\s+1\.00x\s+120\s+1\s+3 x 10$/m);
    expect(text).toMatch(/^dense\s+winnow gpujs:webasm\s+error: no gpu\.js here/m);
    expect(text).toContain('met: dense training vs TF.js dense: 2.00x (target >= 1.5x)');
    expect(text).toContain('not measured: sparse training vs TF.js sparse: - (target >= 10x)');
  });

  it('regenerates only the README section between the markers', () => {
    const r = fake([run('cpu', 'sparse', 12000, 20000, 100), run('tfjs-best', 'sparse', 1000, 3000, 120)]);
    const section = readmeSection(r);
    expect(section.startsWith(readmeMarkers.start) && section.endsWith(readmeMarkers.end)).toBe(true);
    expect(section).toContain('| sparse | winnow cpu | 12,000 | 12.0x | 20,000 | 6.67x | 100 | - | 3 x 10 |');
    expect(section).toContain('- met: sparse training vs TF.js sparse: 12.0x (target >= 10x)');
    const readme = `# x\n\nbefore\n${readmeMarkers.start}\nold\n${readmeMarkers.end}\nafter\n`;
    expect(replaceReadmeSection(readme, section)).toBe(`# x\n\nbefore\n${section}\nafter\n`);
    expect(() => replaceReadmeSection('# no markers', section)).toThrow(/no generated bench section/);
    // The repository's README has the markers.
    expect(() => replaceReadmeSection(readFileSync('README.md', 'utf8'), section)).not.toThrow();
  });
});

describe('npm run bench: a tiny real run', () => {
  it('measures winnow cpu and TF.js best in their own processes and writes results.json', () => {
    const out = join(tmp, 'results.json');
    const r = bench(['--quick', '--contenders', 'cpu,tfjs-best', '--models', 'sparse', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as BenchResults;
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(j);
    expect(j).toMatchObject({ schema: 'winnow.bench/2', quick: true, cores: availableParallelism(), batch: 64, inferenceBatch: 1000 });
    expect(j.tfjs).toMatchObject({ version: '4.22.0', backend: 'wasm' });
    expect(j.tfjs!.threads).toBeGreaterThanOrEqual(1);
    expect(j.results.map((x) => `${x.contender}/${x.model}`)).toEqual(['cpu/sparse', 'tfjs-best/sparse']);
    for (const x of j.results) {
      if (!('train' in x)) throw new Error(`${x.contender}: ${x.error}`);
      expect(x.train.samplesPerSecond).toBeGreaterThan(0);
      expect(x.inference.samplesPerSecond).toBeGreaterThan(0);
      expect(x.peakRssBytes).toBeGreaterThan(20 * 2 ** 20);
      expect(Number.isFinite(x.lastLoss)).toBe(true);
    }
    const cpu = j.results[0];
    expect(cpu.contender === 'cpu' && 'info' in cpu && cpu.info).toMatchObject({ backend: 'cpu', threads: expect.any(Number) });
    expect(j.targets.find((t) => t.id === 'sparse-train')!.value).toBeGreaterThan(0);
    expect(j.targets.find((t) => t.id === 'dense-train')!.met).toBeNull();
    expect(r.stderr).toMatch(/^tfjs-best on sparse: ready/m);
  });

  it('bad arguments get one line and exit code 2, before anything is measured', async () => {
    writeFileSync(join(tmp, 'file'), '');
    for (const [args, message] of [
      [['--contenders', 'cpu,nope'], /--contenders must be a comma-separated list of cpu, reference, gpujs:webasm, tfjs-stock, tfjs-best, got "nope"/],
      [['--models', 'dense,dense'], /--models names something twice/],
      [['--repetitions', '0'], /--repetitions must be a positive integer, got "0"/],
      [['--out'], /--out needs a value/],
      [['--out', join(tmp, 'file', 'x.json')], /--out .*cannot write there/],
      [['--quick', '--readme'], /--readme takes a full run/],
      [['--frobnicate'], /unknown argument "--frobnicate"/],
      [['readme', '--from', join(tmp, 'missing.json')], /missing\.json: no such file/],
      [['readme', '--from', join(tmp, 'file')], /file: not JSON/],
    ] as const) {
      const lines: string[] = [];
      const code = await main(args, { root: process.cwd(), worker: join(tmp, 'no-worker.mjs') }, () => {}, (s) => lines.push(s));
      expect(code, args.join(' ')).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(lines[0]).not.toContain('\n');
    }
  });
});
