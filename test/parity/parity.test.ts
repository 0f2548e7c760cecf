/**
 * The parity suite: every backend under test must match the oracle — the reference backend in
 * float64 — on a full training step of every example network and of the test networks with batch
 * norm, from the same initial state and the same batch: logits, loss, every updated parameter and
 * every duty cycle and running statistic within 1e-4 relative error (norm-wise). The suite runs
 * unchanged against each entry of `backends`; backends added by later work register here (and in
 * runtime/backends.ts, which this suite imports). A backend that cannot run on this machine is
 * skipped with its reason.
 */
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { backendNames, createModel, resolveBackend, type Model } from '../../runtime/backends.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState, type FloatType } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, relError } from './helpers.ts';

interface BackendUnderTest {
  readonly name: string;
  readonly backend: string;
  readonly dtype: FloatType;
}

const backends: ReadonlyArray<BackendUnderTest> = [
  { name: 'reference (float32)', backend: 'reference', dtype: 'float32' },
  { name: 'cpu', backend: 'cpu', dtype: 'float32' },
  { name: 'gpujs:cpu', backend: 'gpujs:cpu', dtype: 'float32' },
  { name: 'gpujs:webasm', backend: 'gpujs:webasm', dtype: 'float32' },
  { name: 'gpujs:webgpu', backend: 'gpujs:webgpu', dtype: 'float32' },
];

const models = ['dense-mlp', 'dropout-mlp', 'sparse-mlp', 'dense-cnn1', 'dense-cnn2', 'sparse-cnn1', 'sparse-cnn2'];

/** Test networks for layers the examples lack: batch norm per feature and per channel, affine and not (test/fixtures/models). */
const fixtures = ['bn-mlp', 'bn-cnn'];

const modelFile = (name: string) => (fixtures.includes(name) ? `test/fixtures/models/${name}.json` : `examples/models/${name}.json`);

const set = loadMnist('train', { limit: 8 });
const batch = 8;
const x = normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784));
const labels = set.labels.slice(0, batch);

/** One training step (after a first warm-up step, so momentum and duty cycles are live), then the end of an epoch (boost decay). */
const step = async (model: Model) => {
  try {
    const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 };
    const rng = Rng.fromSeed(3, 2);
    await model.trainStep(x, labels, batch, sgd, batch, rng);
    const logits = Float64Array.from(await model.predict(x, batch));
    const r = await model.trainStep(x, labels, batch, sgd, 2 * batch, rng);
    await model.endEpoch(); // boost decay on the backend: compared with the other state below
    await model.sync?.();
    return { logits, loss: r.loss, state: model.state };
  } finally {
    model.dispose?.();
  }
};

/** Why a backend cannot run on this machine, or undefined when it can (a name winnow does not know is an error, not a skip). */
const unavailable = async (backend: string): Promise<string | undefined> => {
  if (!(backendNames as ReadonlyArray<string>).includes(backend)) throw new Error(`parity: unknown backend ${JSON.stringify(backend)}`);
  return resolveBackend(backend).then(
    () => undefined,
    (e: Error) => e.message,
  );
};

/** The oracle's run of each network, made once and shared by every backend under test (which only read it). */
const oracles = new Map<string, ReturnType<typeof runOracle>>();
const runOracle = async (name: string) => {
  const lowered = lower(trace(readModelFile(modelFile(name))));
  const init = initModelState(lowered, { seed: 11, dtype: 'float64' });
  return { lowered, init, oracle: await step(await createModel('reference', lowered, convert(init, 'float64'))) };
};
const oracleOf = (name: string) => {
  let o = oracles.get(name);
  if (!o) oracles.set(name, (o = runOracle(name)));
  return o;
};

for (const b of backends) {
  describe(`parity: ${b.name} vs reference (float64)`, async () => {
    const skip = await unavailable(b.backend);
    for (const name of [...models, ...fixtures]) {
      it.skipIf(skip !== undefined)(`${name}: a full training step${skip !== undefined ? ` (skipped: ${skip})` : ''}`, async () => {
        const { lowered, init, oracle } = await oracleOf(name);
        const tested = await step(await createModel(b.backend, lowered, convert(init, b.dtype)));
        expect(relError(tested.logits, oracle.logits), 'logits').toBeLessThan(1e-4);
        expect(Math.abs(tested.loss - oracle.loss) / oracle.loss, 'loss').toBeLessThan(1e-4);
        for (const [tensor, t] of oracle.state.tensors) {
          expect(relError(tested.state.tensors.get(tensor)!.data, t.data), tensor).toBeLessThan(1e-4);
        }
      });
    }
  });
}
