/**
 * A compiled training program's per-sample statistics, `[loss, correct]` per sample, summed on the
 * host. Its own module (no compiler imports) so runners of built modules can use it too.
 */
/** Sums a program's per-sample statistics `[loss, correct]` into the mean loss and the correct count. */
export const sumStats = (stats: ArrayLike<number>, batch: number): { loss: number; correct: number } => {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < batch; i++) {
    loss += stats[2 * i];
    correct += stats[2 * i + 1];
  }
  return { loss: loss / batch, correct: Math.round(correct) };
};
