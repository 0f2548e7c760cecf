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
