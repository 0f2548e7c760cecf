/**
 * `winnow inspect <model> [--ir] [--kernels [--backend B] [--batch N]] [--json]`: what a model is,
 * layer by layer; with `--kernels`, every compiler stage as text and the sources a backend
 * generates for each program.
 */
import { compile, type ProgramKind } from '../../compiler/backend/compile.ts';
import { lower, summarize, trace, type Lowered, type Summary } from '../../compiler/index.ts';
import { checks } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { formatShape } from '../../dsl/shape.ts';
import { backendNames } from '../backends.ts';
import { cpuCompileOptions } from '../cpu/layout.ts';
import { gpujsCompileOptions } from '../gpujs/program.ts';
import { openKernelSources, type ProgramSources } from '../kernel-sources.ts';
import { loadNetwork } from '../load-model.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { formatTable, thousands } from './table.ts';

/** The largest `--batch` inspect compiles for. */
const maxBatch = 65_536;

/** Flags of `inspect`. */
export const inspectSpec: CommandSpec = {
  name: 'inspect',
  positionals: ['model'],
  // <model>: a .json model file, a .ts/.js module exporting a network, or a checkpoint directory
  flags: {
    ir: { type: 'bool', help: 'print the IR (traced and lowered stages)' },
    kernels: { type: 'bool', help: 'print every compiler stage (traced, lowered, compiled train/inference/epochEnd) and the generated kernel sources' },
    backend: { type: 'string', choices: backendNames.filter((n) => n !== 'auto'), help: 'with --kernels: whose generated sources to print (default cpu)' },
    batch: { type: 'number', check: { test: (x) => checks.positiveInt.test(x) && x <= maxBatch, rule: `must be an integer in [1, ${maxBatch}]` }, help: 'with --kernels: the batch size programs are compiled for (default: the model\'s, else 64)' },
    json: { type: 'bool', help: 'print one JSON object instead of the table' },
  },
};

/** The programs `--kernels` compiles, in order. */
const programKinds: ReadonlyArray<ProgramKind> = ['train', 'inference', 'epochEnd'];

/** Every compiled program (train, inference, epochEnd) and its generated sources on `backend` (shared with `.kernels` in `winnow repl`). */
export const compileAll = async (lowered: Lowered, backend: string, batch: number) => {
  const programs = programKinds;
  // The stages as the backend compiles them: the cpu and gpujs backends run pass sparseForms (its choices are in the text).
  const compiled = programs.map((program) => compile(lowered, { program, batch, ...(backend === 'cpu' ? cpuCompileOptions : backend.startsWith('gpujs:') ? gpujsCompileOptions : {}) }));
  const opened = await openKernelSources(backend, lowered);
  try {
    const sources: ProgramSources[] = [];
    for (const program of programs) sources.push(await opened.sources(program, batch));
    return { compiled, sources };
  } finally {
    opened.dispose();
  }
};

/** The generated sources as text: per program, its kernel count and names, then each file. */
export const sourcesText = (backend: string, sources: ReadonlyArray<ProgramSources>): string => {
  const lines: string[] = [];
  for (const s of sources) {
    lines.push(`; ${backend} sources of program ${s.program} (batch ${s.batch}): ${s.kernels.length} kernel${s.kernels.length === 1 ? '' : 's'}${s.kernels.length ? `: ${s.kernels.join(', ')}` : ''}`);
    for (const f of s.files) lines.push(`; --- ${f.name} ---`, f.text);
    lines.push('');
  }
  lines.push(`; kernels per program on ${backend}: ${sources.map((s) => `${s.program} ${s.kernels.length}`).join(', ')}`);
  return lines.join('\n');
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
  if (!flags.kernels && (flags.backend !== undefined || flags.batch !== undefined)) {
    throw new WinnowError('usage', `--${flags.backend !== undefined ? 'backend' : 'batch'} applies only with --kernels`);
  }
  const backend = (flags.backend as string | undefined) ?? 'cpu';
  const batch = (flags.batch as number | undefined) ?? net.training?.batchSize ?? 64;
  const kernels = flags.kernels ? await compileAll(lowered, backend, batch) : undefined;
  if (flags.json) {
    const ir = flags.ir || kernels ? { ir: { traced: traced.asText(), lowered: lowered.asText(), ...(kernels ? { compiled: Object.fromEntries(kernels.compiled.map((c) => [c.program, c.asText()])) } : {}) } } : {};
    const k = kernels
      ? { kernels: { backend, batch, programs: kernels.sources.map((s) => ({ program: s.program, batch: s.batch, count: s.kernels.length, names: s.kernels, files: s.files })) } }
      : {};
    out(JSON.stringify({ ...summaryJSON(summary), ...ir, ...k }, null, 2));
    return 0;
  }
  out(`${positionals.model}: input ${formatShape(net.input)}, ${net.layers.length} layers`);
  out(summaryTable(summary));
  if (flags.ir || kernels) {
    out('');
    out(traced.asText());
    out('');
    out(lowered.asText());
  }
  if (kernels) {
    for (const c of kernels.compiled) {
      out('');
      out(c.asText());
    }
    out('');
    out(sourcesText(backend, kernels.sources));
  }
  return 0;
};
