/** Progress reporting for long CLI runs: a live bar on a terminal, plain lines otherwise. */
import type { TrainProgress } from '../train.ts';

/** One progress line: `epoch 1/3 [#####.....] 51% loss 0.3121 acc 90.52% 186 samples/s`. */
export const progressLine = (p: TrainProgress, width = 24): string => {
  const frac = p.samplesDone / p.samplesTotal;
  const filled = Math.round(frac * width);
  return `epoch ${p.epoch}/${p.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(2)}% ${p.samplesPerSecond.toFixed(0)} samples/s`;
};

/** Writes a bar that redraws itself in place (for a TTY). */
export const liveBar = (stream: NodeJS.WriteStream) => ({
  update: (p: TrainProgress) => stream.write(`\r${progressLine(p)}\x1b[K`),
  clear: () => stream.write('\r\x1b[K'),
});

/** The live bar on stderr when it is a terminal (and not under CI), else undefined (plain lines). */
export const stderrBar = (): ReturnType<typeof liveBar> | undefined => (process.stderr.isTTY === true && !process.env.CI ? liveBar(process.stderr) : undefined);

/**
 * Ctrl-C for a run that checkpoints: the first press aborts `signal` (the run saves a checkpoint
 * after its current batch) and says so on `err`; a second quits at once (exit code 130).
 * `release()` removes the handler, so Ctrl-C ends the process again.
 */
export const checkpointOnSigint = (err: (s: string) => void, bar?: ReturnType<typeof liveBar>): { readonly signal: AbortSignal; readonly release: () => void } => {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    bar?.clear();
    err('interrupted: saving a checkpoint after this batch (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
};
