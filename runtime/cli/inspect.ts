/**
 * `winnow inspect <model> [--ir] [--json]`: what a model is, layer by layer.
 */
import { lower, summarize, trace, type Summary } from '../../compiler/index.ts';
import { formatShape } from '../../dsl/shape.ts';
import { loadNetwork } from '../load-model.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { formatTable, thousands } from './table.ts';

/** Flags of `inspect`. */
export const inspectSpec: CommandSpec = {
  name: 'inspect',
  positionals: ['model'],
  // <model>: a .json model file, a .ts/.js module exporting a network, or a checkpoint directory
  flags: {
    ir: { type: 'bool', help: 'print the IR (traced and lowered stages)' },
    json: { type: 'bool', help: 'print one JSON object instead of the table' },
  },
};

/** The summary as the JSON object `--json` prints. */
export const summaryJSON = (s: Summary) => ({
  layers: s.layers.map((l) => ({
    kind: l.kind,
    outputShape: [...l.outputShape],
    params: l.params,
    nonzeroParams: l.nonzeroParams,
    ...(l.weightDensity !== undefined ? { weightDensity: l.weightDensity } : {}),
    ...(l.k !== undefined ? { k: l.k, kInference: l.kInference } : {}),
    ...(l.boost !== undefined ? { boost: l.boost } : {}),
  })),
  totals: { params: s.totals.params, nonzeroParams: s.totals.nonzeroParams },
});

/** The summary as a text table. */
export const summaryTable = (s: Summary): string =>
  formatTable(
    ['#', 'layer', 'output', 'params', 'non-zero', 'weight density', 'k (train)', 'k (infer)', 'boost'],
    s.layers.map((l) => [
      String(l.index),
      l.kind,
      formatShape(l.outputShape),
      thousands(l.params),
      thousands(l.nonzeroParams),
      l.weightDensity !== undefined ? `${+(l.weightDensity * 100).toFixed(2)}%` : '',
      l.k !== undefined ? `${l.k} of ${l.n}${l.groups! > 1 ? ` x${l.groups}` : ''}` : '',
      l.kInference !== undefined ? String(l.kInference) : '',
      l.boost ? `${l.boost.strength} x${l.boost.strengthFactor}/epoch, period ${l.boost.dutyCyclePeriod}` : '',
    ]),
    [['', 'total', '', thousands(s.totals.params), thousands(s.totals.nonzeroParams), `${((100 * s.totals.nonzeroParams) / Math.max(1, s.totals.params)).toFixed(1)}%`, '', '', '']],
  );

/** Runs `inspect`. */
export const inspectCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void): Promise<number> => {
  const { flags, positionals } = parseCommand(inspectSpec, argv);
  const net = await loadNetwork(positionals.model);
  const traced = trace(net);
  const lowered = lower(traced);
  const summary = summarize(lowered);
  if (flags.json) {
    out(JSON.stringify(flags.ir ? { ...summaryJSON(summary), ir: { traced: traced.asText(), lowered: lowered.asText() } } : summaryJSON(summary), null, 2));
    return 0;
  }
  out(`${positionals.model}: input ${formatShape(net.input)}, ${net.layers.length} layers`);
  out(summaryTable(summary));
  if (flags.ir) {
    out('');
    out(traced.asText());
    out('');
    out(lowered.asText());
  }
  return 0;
};
