/**
 * Ahead-of-time builds (`winnow build`): compiles a model's programs for one backend and bundles
 * them with its state into ONE standalone ES module, with no parser, compiler, wabt or io-ts at
 * load time.
 *
 * - **cpu**: the generated kernels as code, the matrix products as embedded WebAssembly binaries,
 *   the state (weights, masks, momentum, layer state) as embedded data, and
 *   `runtime/aot/standalone.ts` to run them. Synchronous API.
 * - **gpujs:<mode>**: the generated gpu.js kernel sources and the host bindings of each program
 *   (runtime/gpujs/program.ts) as JSON, the state as embedded data, and
 *   `runtime/aot/gpujs-standalone.ts` with the gpujs runner to run them. gpu.js itself is NOT
 *   bundled: the module imports `gpu.js` (and, for webgpu in Node, `webgpu`) from where it runs.
 *   Same exports as a cpu build, but `predict`, `trainStep`, `endEpoch` and `state` return Promises.
 *
 * Memory is laid out as the cpu backend does (runtime/cpu/model.ts): the state arena first, then,
 * for each program, its host inputs, temporaries and scratch. Programs run one at a time, so they
 * share the memory above the arena. A built module is single-threaded: it runs every kernel whole
 * on the thread that calls it (the cpu backend's worker threads are not part of it).
 *
 * @example
 * import { buildStandalone } from 'winnow/runtime/aot/build';
 * // const text = await buildStandalone(lowered, state, { name: 'sparse_mlp', batch: 64, inferenceOnly: false, rng: Rng.fromSeed(1, 2).state() });
 * // writeFileSync('model.mjs', text); const { predict } = await import('./model.mjs');
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type ProgramKind } from '../../compiler/backend/compile.ts';
import { floatsOf } from '../../compiler/backend/passes/plan-buffers.ts';
import { generateJs } from '../../compiler/codegen/js/program.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { shapeSize } from '../../dsl/shape.ts';
import { align, cpuCompileOptions, indexListsOf, layoutProgram, type IndexList } from '../cpu/layout.ts';
import { maskIndexFromState } from '../compiled/host.ts';
import type { ModelState } from '../model-state.ts';
import { watToBinary } from '../cpu/wasm.ts';
import { SOFTWARE_LOOP_LIMIT } from '../../compiler/codegen/gpujs/source.ts';
import { gpujsProgram } from '../gpujs/program.ts';
import type { GpujsMode } from '../gpujs/runner.ts';
import type { GpujsStandaloneSpec } from './gpujs-standalone.ts';
import type { ArenaEntry, ProgramSpec } from './standalone.ts';

/** The backends a build can target. */
export const buildBackends = ['cpu', 'gpujs:webgpu', 'gpujs:webgl2', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu'] as const;
export type BuildBackend = (typeof buildBackends)[number];

/** Options of a build. */
export interface BuildOptions {
  /** The model's name (in the module's exports and header). */
  readonly name: string;
  /** The batch size every program is compiled for. */
  readonly batch: number;
  /** Leave out the training programs (and the momentum buffers and masks). */
  readonly inferenceOnly: boolean;
  /** The training stream's initial state (four uint32 words; `Rng.fromSeed(seed, 2).state()` as `winnow train` starts it). */
  readonly rng: readonly [number, number, number, number];
  /** A comment line for the module's header (e.g. what it was built from). */
  readonly note?: string;
  /** What the module runs on (default `cpu`). */
  readonly backend?: BuildBackend;
}


/** The state arena of a build: tensors, then (for training) momentum buffers and masks (`withMasks`: also for a gpujs module whose programs derive index lists from them), then (cpu builds) the sparse weights' index lists. */
const layoutArena = (state: ModelState, withTraining: boolean, indexLists: ReadonlyArray<IndexList> = [], withMasks = withTraining): { arena: ArenaEntry[]; end: number } => {
  const arena: ArenaEntry[] = [];
  let end = 0;
  const place = (map: ArenaEntry['map'], name: string, shape: ReadonlyArray<number>, length: number) => {
    arena.push({ map, name, shape: [...shape], offset: end, length });
    end += align(length);
  };
  for (const [name, t] of state.tensors) place('tensors', name, t.shape, t.data.length);
  if (withTraining) {
    for (const [name, m] of state.momentum) place('momentum', name, state.tensors.get(name)!.shape, m.length);
  }
  if (withMasks) for (const [name, m] of state.masks) place('masks', name, state.tensors.get(name)!.shape, m.length);
  for (const l of indexLists) place('maskIndex', l.name, [l.units, l.kept], l.units * l.kept);
  return { arena, end };
};

/**
 * The arena's data: per entry, a bitmap of its non-zero elements (padded to 4 bytes) and, for
 * float tensors, those elements as little-endian float32 (masks need only the bitmap). Sparse
 * weights and fresh momentum buffers shrink accordingly. Only +0 counts as zero, so -0 survives.
 */
export const encodeArena = (arena: ReadonlyArray<ArenaEntry>, state: ModelState): Uint8Array => {
  const indexList = (e: ArenaEntry): Float32Array => {
    const [units, kept] = e.shape;
    return maskIndexFromState(state.masks, e.name, units, kept, new Float32Array(units * kept), 'int32');
  };
  const dataOf = (e: ArenaEntry): ArrayLike<number> =>
    e.map === 'tensors' ? state.tensors.get(e.name)!.data : e.map === 'momentum' ? state.momentum.get(e.name)! : e.map === 'maskIndex' ? indexList(e) : state.masks.get(e.name)!;
  const isZero = (v: number) => v === 0 && !Object.is(v, -0);
  let bytes = 0;
  for (const e of arena) {
    bytes += (Math.ceil(e.length / 8) + 3) & ~3;
    if (e.map === 'masks') continue;
    const d = dataOf(e);
    for (let i = 0; i < e.length; i++) if (!isZero(d[i])) bytes += 4;
  }
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of arena) {
    const d = dataOf(e);
    const bitmap = at;
    at += (Math.ceil(e.length / 8) + 3) & ~3;
    for (let i = 0; i < e.length; i++) {
      if (isZero(d[i])) continue;
      out[bitmap + (i >>> 3)] |= 1 << (i & 7);
      if (e.map === 'masks') continue;
      view.setFloat32(at, d[i], true);
      at += 4;
    }
  }
  return out;
};

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** One program compiled and placed above `base`: its spec (without the factory), the factory's source, and where its memory ends. */
const placeProgram = async (lowered: Lowered, kind: ProgramKind, batch: number, base: number, arena: ReadonlyArray<ArenaEntry>) => {
  const { schedule } = compile(lowered, { program: kind, batch, ...cpuCompileOptions });
  const ir = schedule.ir;
  const slots = new Map(arena.map((e) => [`${e.map}:${e.name}`, e.offset]));
  const { address, scratch, copies } = layoutProgram(schedule, base, (key) => slots.get(key));
  const js = generateJs(schedule, address, scratch);
  const hostOp = (name: string) => ir.ops.filter((o) => o.op === name);
  const spec: Omit<ProgramSpec, 'factory'> = {
    wasm: js.wat ? base64(await watToBinary(js.wat)) : '',
    inputs: hostOp('input').map((o) => address(o.id)),
    labels: hostOp('labels').map((o) => address(o.id)),
    scalars: hostOp('scalar').map((o) => [String(o.attrs.role), address(o.id)] as const),
    randoms: hostOp('random').map((o) => [address(o.id), floatsOf(ir, o.id, batch), o.attrs.rate as number] as const),
    copies,
    output: address(ir.output),
    stats: ir.results?.stats !== undefined ? address(ir.results.stats) : -1,
  };
  return { spec, source: js.source, end: scratch + js.scratchFloats };
};

/** The directory of this module's sources (runtime/aot), from the sources or from the bundled CLI in dist/. */
const aotDir = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [dir, join(dir, 'runtime', 'aot')]) if (existsSync(join(candidate, 'standalone.ts'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('winnow build: cannot find runtime/aot/standalone.ts next to the winnow package');
    dir = up;
  }
};

/** The exports of a built module. */
const exportsOf = (options: BuildOptions): string[] => [
  'predict',
  'state',
  ...(options.inferenceOnly ? [] : ['trainStep', 'endEpoch', 'rngState']),
  ...((options.backend ?? 'cpu') === 'cpu' ? [] : ['dispose']),
];

/** The entry module of a gpujs build: the spec (kernel sources and bindings as JSON) and the gpujs runtime. */
const gpujsEntry = (lowered: Lowered, state: ModelState, options: BuildOptions & { backend: BuildBackend }): string => {
  const kinds: ProgramKind[] = options.inferenceOnly ? ['inference'] : ['inference', 'train', 'epochEnd'];
  const programs = Object.fromEntries(kinds.map((kind) => [kind, gpujsProgram(lowered, kind, kind === 'epochEnd' ? 1 : options.batch, { backend: options.backend })]));
  // the runner derives sparse weights' index lists from their masks: an inference-only module whose program reads them keeps the masks
  const readsIndexLists = Object.values(programs).some((p) => p.sources.some((s) => s.kind === 'array' && s.from === 'state' && s.slot.map === 'maskIndex'));
  const { arena, end } = layoutArena(state, !options.inferenceOnly, [], !options.inferenceOnly || readsIndexLists);
  const ops = lowered.ir.ops;
  const spec: Omit<GpujsStandaloneSpec, 'data'> = {
    name: options.name,
    backend: options.backend,
    mode: options.backend.slice('gpujs:'.length) as GpujsMode,
    batch: options.batch,
    classes: shapeSize(ops[lowered.ir.output].shape!),
    inputShape: [...lowered.ir.inputShape],
    floats: end,
    arena,
    rng: [...options.rng],
    softwareLoopLimit: SOFTWARE_LOOP_LIMIT,
    inference: programs.inference,
    ...(programs.train ? { train: programs.train, epochEnd: programs.epochEnd } : {}),
  };
  const head = JSON.stringify(spec);
  const exportsList = exportsOf(options);
  return [
    "import { createGpujsStandalone } from './gpujs-standalone.ts';",
    '',
    // The kernel sources inside are checked generated code (numbers and compiler-made identifiers), as JSON strings.
    `const spec = { ${head.slice(1, -1)},`,
    `  data: ${JSON.stringify(base64(encodeArena(arena, state)))},`,
    '};',
    'const model = await createGpujsStandalone(spec);',
    '/** The model\'s name, the backend and batch size its programs are compiled for, its number of classes and the shape of one input. */',
    'export const { name, backend, batch, classes } = spec;',
    'export const inputShape = Object.freeze(spec.inputShape);',
    `export const { ${exportsList.join(', ')} } = model;`,
    `export default Object.freeze({ name, backend, batch, classes, inputShape, ${exportsList.join(', ')} });`,
    '',
  ].join('\n');
};

/** The entry module of a build (before bundling): the spec, with each program's generated factory as code (cpu) or its kernel sources (gpujs). */
export const standaloneEntry = async (lowered: Lowered, state: ModelState, options: BuildOptions): Promise<string> => {
  const backend = options.backend ?? 'cpu';
  if (backend !== 'cpu') return gpujsEntry(lowered, state, { ...options, backend });
  const { arena, end: stateEnd } = layoutArena(state, !options.inferenceOnly, indexListsOf(lowered));
  const kinds: ProgramKind[] = options.inferenceOnly ? ['inference'] : ['inference', 'train', 'epochEnd'];
  let memoryFloats = stateEnd;
  const programs: string[] = [];
  for (const kind of kinds) {
    const p = await placeProgram(lowered, kind, kind === 'epochEnd' ? 1 : options.batch, stateEnd, arena);
    memoryFloats = Math.max(memoryFloats, p.end);
    // The factory is generated code (only numbers and identifiers the code generator made), spliced in as a function expression.
    programs.push(`  ${kind}: { factory: ${p.source.split('\n').join('\n    ')}, ${JSON.stringify(p.spec).slice(1)},`);
  }
  const ops = lowered.ir.ops;
  const constants = {
    name: options.name,
    batch: options.batch,
    classes: shapeSize(ops[lowered.ir.output].shape!),
    inputShape: [...lowered.ir.inputShape],
    memoryFloats,
    arena,
    rng: [...options.rng],
  };
  const head = JSON.stringify(constants);
  const exportsList = exportsOf(options);
  return [
    "import { createStandalone } from './standalone.ts';",
    '',
    `const spec = { ${head.slice(1, -1)},`,
    `  data: ${JSON.stringify(base64(encodeArena(arena, state)))},`,
    ...programs,
    '};',
    'const model = await createStandalone(spec);',
    '/** The model\'s name, the batch size its programs are compiled for, its number of classes and the shape of one input. */',
    'export const { name, batch, classes } = spec;',
    'export const inputShape = Object.freeze(spec.inputShape);',
    `export const { ${exportsList.join(', ')} } = model;`,
    `export default Object.freeze({ name, batch, classes, inputShape, ${exportsList.join(', ')} });`,
    '',
  ].join('\n');
};

/** A standalone ES module (text) running `lowered` with `state`, bundled with esbuild. */
export const buildStandalone = async (lowered: Lowered, state: ModelState, options: BuildOptions): Promise<string> => {
  const entry = await standaloneEntry(lowered, state, options);
  const { build } = await import('esbuild');
  // Comments carry only characters that cannot end a comment line.
  const safe = options.name.replace(/[^\w.-]/g, '_');
  const backend = options.backend ?? 'cpu';
  const what = backend === 'cpu' ? 'the cpu backend (generated JavaScript + WebAssembly SIMD)' : `${backend} (generated gpu.js kernels; imports gpu.js at load time)`;
  const promise = backend === 'cpu' ? '' : ' (all but rngState and dispose return Promises)';
  const result = await build({
    stdin: { contents: entry, resolveDir: aotDir(), sourcefile: `${safe}.entry.mjs`, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    logLevel: 'silent',
    legalComments: 'none',
    // gpujs builds: gpu.js and Dawn come from where the module runs; Node built-ins are imported only when used
    external: ['gpu.js', 'webgpu', 'node:*'],
    banner: {
      js: [
        `// ${safe}: a sparse network built by \`winnow build\` for ${what}; do not edit.`,
        ...(options.note ? [`// ${options.note.replace(/[\r\n\u2028\u2029]+/g, ' ')}`] : []),
        `// exports: name, ${backend === 'cpu' ? '' : 'backend, '}batch, classes, inputShape, predict(x, n)${options.inferenceOnly ? ', state()' : ', trainStep(x, labels, batch, { lr, momentum, weightDecay }, samplesSeen, seed?), endEpoch(), state(), rngState()'}${backend === 'cpu' ? '' : ', dispose()'}${promise}`,
      ].join('\n'),
    },
  });
  return result.outputFiles[0].text;
};
