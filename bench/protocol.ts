/**
 * Messages between `npm run bench` (the parent) and a benchmark worker (one child process per
 * contender and model, so that each one's peak memory is its own). The parent starts the worker
 * with a `Job` as its argument; the worker opens the contender, warms it up and says `ready`; the
 * parent then asks for timed runs one at a time (round-robin over all workers, so a change of load
 * on a shared machine hits every contender alike) and finally for `finish`, which answers with the
 * process's peak resident set size.
 *
 * @example
 * import type { Job, ToWorker, FromWorker } from './protocol.ts';
 * const ask: ToWorker = { type: 'train' };
 */
import type { ContenderId, Plan } from './catalog.ts';

/** What a worker measures. */
export interface Job {
  readonly contender: ContenderId;
  /** Model file path. */
  readonly model: string;
  readonly batch: number;
  readonly inferenceBatch: number;
  readonly plan: Plan;
}

/** Parent to worker. */
export type ToWorker = { readonly type: 'train' } | { readonly type: 'infer' } | { readonly type: 'finish' };

/** Worker to parent. */
export type FromWorker =
  | { readonly type: 'ready'; readonly info: Readonly<Record<string, string | number | boolean>>; readonly setupSeconds: number }
  /** `plan.steps` training steps took `seconds`; `loss` is the last step's. */
  | { readonly type: 'train'; readonly seconds: number; readonly loss: number }
  /** `plan.inferenceCalls` predicts at `inferenceBatch` took `seconds`. */
  | { readonly type: 'infer'; readonly seconds: number }
  /** `process.resourceUsage().maxRSS`, in bytes. */
  | { readonly type: 'finished'; readonly peakRssBytes: number }
  | { readonly type: 'error'; readonly message: string };
