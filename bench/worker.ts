/**
 * A benchmark worker process (see protocol.ts): measures one contender on one model. Started by
 * bench/compare.ts with `fork`, never by hand.
 */
import { benchData } from './data.ts';
import { openRunner, type Runner } from './contenders.ts';
import type { FromWorker, Job, ToWorker } from './protocol.ts';

const send = (m: FromWorker): Promise<void> => new Promise((resolve) => (process.send ? process.send(m, undefined, undefined, () => resolve()) : resolve()));

const fail = async (e: unknown): Promise<never> => {
  const message = (e as Error)?.message ?? String(e);
  await send({ type: 'error', message: message.split('\n')[0] });
  process.exit(1);
};

const main = async (): Promise<void> => {
  if (!process.send) throw new Error('bench/worker runs as a child of `npm run bench`');
  // Ends with the parent.
  process.on('disconnect', () => process.exit(1));
  const job = JSON.parse(process.argv[2] ?? '') as Job;
  const t0 = performance.now();
  const data = benchData(job.batch, job.inferenceBatch);
  const runner: Runner = await openRunner(job.contender, job.model, data, job.batch);
  let step = 0;
  const trainStep = async (): Promise<number> => {
    const loss = await runner.trainStep(step++);
    if (!Number.isFinite(loss)) throw new Error(`${job.contender}: the loss went non-finite at step ${step}`);
    return loss;
  };
  for (let i = 0; i < job.plan.warmup; i++) await trainStep();
  await runner.predict(data.testX, job.inferenceBatch);
  await send({ type: 'ready', info: runner.info, setupSeconds: (performance.now() - t0) / 1000 });

  // One request at a time; the parent waits for each answer.
  let queue = Promise.resolve();
  process.on('message', (m: ToWorker) => {
    queue = queue.then(async () => {
      if (m.type === 'train') {
        let loss = NaN;
        const t = performance.now();
        for (let i = 0; i < job.plan.steps; i++) loss = await trainStep();
        await send({ type: 'train', seconds: (performance.now() - t) / 1000, loss });
      } else if (m.type === 'infer') {
        const t = performance.now();
        for (let i = 0; i < job.plan.inferenceCalls; i++) await runner.predict(data.testX, job.inferenceBatch);
        await send({ type: 'infer', seconds: (performance.now() - t) / 1000 });
      } else {
        const peakRssBytes = process.resourceUsage().maxRSS * 1024;
        runner.dispose();
        await send({ type: 'finished', peakRssBytes });
        process.exit(0);
      }
    }).catch(fail);
  });
};

main().catch(fail);
