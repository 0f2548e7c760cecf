/**
 * `winnow experiment paper-mnist [flags]`: trains and evaluates the paper's MNIST networks for
 * one or more seeds (skipping finished runs, continuing interrupted ones from their checkpoint),
 * then writes the self-contained HTML report. `--report-only` rebuilds the report from the run
 * records already in `--out`.
 */
import { checks } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { backendNames } from '../backends.ts';
import { paperNetworks, parseNetworkList, runPaperMnist } from '../experiment/paper-mnist.ts';
import { writePaperMnistReport } from '../report/paper-mnist-report.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { checkpointOnSigint, stderrBar } from './progress.ts';

/** The experiments `winnow experiment` knows. */
const experiments = ['paper-mnist'];

/** Flags of `experiment`. */
export const experimentSpec: CommandSpec = {
  name: 'experiment',
  positionals: ['name'],
  flags: {
    seeds: { type: 'number', check: checks.positiveInt, help: 'train every network with seeds 1..N (default 1)' },
    epochs: { type: 'number', check: checks.positiveInt, help: 'override every model\'s epochs (default: each model file\'s, the paper\'s)' },
    backend: { type: 'string', choices: backendNames, help: `execution backend: ${backendNames.join(', ')} (default auto)` },
    out: { type: 'string', help: 'output directory: run records, checkpoints, report.html (default runs/paper-mnist)' },
    networks: { type: 'string', help: `comma-separated subset of ${paperNetworks.map((n) => n.id).join(', ')} (default all)` },
    'train-limit': { type: 'number', check: checks.positiveInt, help: 'train on the first N images only (quick runs; not comparable with the paper)' },
    'test-limit': { type: 'number', check: checks.positiveInt, help: 'evaluate on the first N test images only (quick runs)' },
    'report-only': { type: 'bool', help: 'only rebuild the report from the run records in --out' },
  },
};

/** Runs `experiment`. */
export const experimentCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void, err: (s: string) => void): Promise<number> => {
  const { flags, positionals } = parseCommand(experimentSpec, argv);
  if (!experiments.includes(positionals.name)) throw new WinnowError('usage', `unknown experiment ${JSON.stringify(positionals.name)} (experiments: ${experiments.join(', ')})`);
  const dir = (flags.out as string | undefined) ?? 'runs/paper-mnist';
  if (flags['report-only']) {
    const given = ['seeds', 'epochs', 'backend', 'networks', 'train-limit', 'test-limit'].filter((f) => flags[f] !== undefined);
    if (given.length) throw new WinnowError('usage', `--report-only takes only --out (it reads the run records there), got --${given[0]}`);
    const w = writePaperMnistReport(dir);
    out(`report of ${w.records} runs: ${w.report} (also ${w.noiseCurves}, ${w.summary})`);
    return 0;
  }
  const networks = flags.networks !== undefined ? parseNetworkList(flags.networks as string) : undefined;
  const bar = stderrBar();
  const sigint = checkpointOnSigint(err, bar);
  let interrupted: boolean;
  try {
    const log = (s: string) => {
      bar?.clear();
      out(s);
    };
    log(`paper-mnist: ${(flags.seeds as number | undefined) ?? 1} seed(s) of ${(networks ?? paperNetworks.map((n) => n.id)).join(', ')} -> ${dir}`);
    const result = await runPaperMnist({
      out: dir,
      seeds: (flags.seeds as number | undefined) ?? 1,
      backend: (flags.backend as string | undefined) ?? 'auto',
      ...(flags.epochs !== undefined ? { epochs: flags.epochs as number } : {}),
      ...(flags['train-limit'] !== undefined ? { trainLimit: flags['train-limit'] as number } : {}),
      ...(flags['test-limit'] !== undefined ? { testLimit: flags['test-limit'] as number } : {}),
      ...(networks ? { networks } : {}),
      log,
      ...(bar ? { onProgress: bar.update } : {}),
      signal: sigint.signal,
    });
    interrupted = result.interrupted;
  } finally {
    sigint.release();
  }
  if (interrupted) {
    err(`interrupted: finished runs are in ${dir}/runs; run the same command to continue`);
    return 130;
  }
  const w = writePaperMnistReport(dir);
  out(`report of ${w.records} runs: ${w.report} (also ${w.noiseCurves}, ${w.summary})`);
  return 0;
};
