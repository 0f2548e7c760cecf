/**
 * Model state that stays on the WebGPU device between calls, for gpujs:webgpu. gpu.js's
 * `fused-encoder` executor (a `gpu.createPipeline` plan on webgpu) records every kernel of a
 * program into one command encoder over persistent storage buffers, but uploads every argument
 * and reads every result back on each call. This module drives an executor gpu.js has compiled
 * (after the pipeline's first call) with its own encoder instead:
 *
 * - the model state (parameters, momentum buffers, duty cycles, masks) lives in one device buffer
 *   per tensor, written from the host once (`upload`) and again only after `invalidate`;
 * - a call copies those buffers into the plan's argument buffers, runs the plan's passes, and
 *   copies only what the host needs (statistics, logits, one-element state such as boost
 *   strengths) into a staging buffer: ONE queue submission and one `mapAsync` per call, as before;
 * - the state a training step updates stays in the plan's result buffers and is committed to the
 *   state buffers by copies at the start of the NEXT submission (or by `flush`/`download`) once
 *   the step is known to be good (`setPending`): a step whose loss is not finite is simply never
 *   committed, so the state is untouched;
 * - `download` (for `sync`) commits and reads every state buffer back.
 *
 * It reads gpu.js 2.24's executor internals (`_argRegions`, `_paramsRecords`, `_passes`,
 * `_resultReads`, `plan.results`); `adopt` checks they are there and says why not otherwise, and
 * the caller then keeps uploading per call.
 *
 * @example
 * import { WebgpuResidency } from 'winnow/runtime/gpujs/webgpu-resident';
 * // const residency = new WebgpuResidency();
 * // const plan = residency.adopt(pipeline, program, (slot) => true); // after the pipeline ran once
 * // if (typeof plan !== 'string') { residency.upload(stateArrays); const out = await residency.run(plan, args, [program.stats]); }
 */
import type { GpujsProgram, StateSlot } from './program.ts';

const MAP_READ = 0x0001;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const STORAGE = 0x0080;

/** The slice of a GPUBuffer this module uses. */
interface GpuBuffer {
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}

interface GpuPass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
  end(): void;
}

interface GpuEncoder {
  beginComputePass(): GpuPass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}

interface GpuDevice {
  createBuffer(descriptor: { size: number; usage: number }): GpuBuffer;
  createCommandEncoder(): GpuEncoder;
  readonly queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void; submit(buffers: unknown[]): void };
}

/** gpu.js's compiled fused-encoder executor: the fields this module drives. */
interface FusedEncoder {
  readonly kind: string;
  readonly destroyed: boolean;
  readonly _device: GpuDevice;
  readonly plan: { readonly results: { readonly entries: ReadonlyArray<{ readonly key: string | number }> } };
  readonly _argRegions: Map<number, { readonly flatLength: number; readonly buffer: GpuBuffer }>;
  readonly _paramsRecords: ReadonlyArray<{
    readonly perCall: boolean;
    readonly perCallScalars: ReadonlyArray<{ readonly index: number; readonly offset: number; readonly type: string }>;
    readonly seedOffset: number | null;
    readonly u32: Uint32Array;
    readonly i32: Int32Array;
    readonly f32: Float32Array;
    readonly mirror: ArrayBuffer;
    readonly paramsBuffer: GpuBuffer;
  }>;
  readonly _passes: ReadonlyArray<{ readonly pipeline: unknown; readonly bindGroup: unknown; readonly groups: ReadonlyArray<number> }>;
  readonly _resultReads: ReadonlyArray<{ readonly kind: string; readonly buffer?: GpuBuffer; readonly byteLength?: number }>;
  _writeScalar(u32: Uint32Array, i32: Int32Array, f32: Float32Array, record: { offset: number; type: string }, value: number): void;
}

/** A program whose state arguments come from the device's state buffers. */
export interface ResidentPlan {
  readonly program: GpujsProgram;
  readonly executor: FusedEncoder;
  /** Arguments copied from a state buffer on the device (by slot key). */
  readonly deviceArgs: ReadonlyArray<{ readonly index: number; readonly key: string; readonly region: GpuBuffer; readonly bytes: number }>;
  /** Arguments written from the host on every call. */
  readonly hostArgs: ReadonlyArray<{ readonly index: number; readonly region: GpuBuffer; readonly floats: number }>;
  /** The plan buffer holding each result, by value. */
  readonly results: ReadonlyMap<number, { readonly buffer: GpuBuffer; readonly bytes: number }>;
  /** Updates committed to device state buffers when the call is accepted. */
  readonly commits: ReadonlyArray<{ readonly value: number; readonly key: string }>;
}

/** The key of a state slot. */
export const slotKey = (slot: StateSlot): string => `${slot.map}:${slot.name}`;

const flatLength = (dims: ReadonlyArray<number>): number => dims.reduce((a, b) => a * b, 1);

/** Why `ex` is not a fused-encoder executor this module can drive, or undefined. */
const unusable = (ex: unknown): string | undefined => {
  if (!ex || typeof ex !== 'object') return 'gpu.js compiled no fused executor for it';
  const e = ex as Partial<FusedEncoder>;
  if (e.kind !== 'fused-encoder') return `its executor is ${String(e.kind)}, not fused-encoder`;
  if (e.destroyed) return 'its executor was destroyed';
  const fields: Array<keyof FusedEncoder> = ['_device', 'plan', '_argRegions', '_paramsRecords', '_passes', '_resultReads', '_writeScalar'];
  const missing = fields.filter((f) => e[f] === undefined || e[f] === null);
  return missing.length ? `this gpu.js's fused-encoder lacks ${missing.join(', ')}` : undefined;
};

/** A device buffer for a state array of `floats` floats (never empty: at least 4 bytes). */
const stateBuffer = (device: GpuDevice, floats: number): { readonly buffer: GpuBuffer; readonly floats: number } => ({
  buffer: device.createBuffer({ size: Math.max(4, floats * 4), usage: STORAGE | COPY_SRC | COPY_DST }),
  floats,
});

/** The model state of one gpujs:webgpu model on its device. */
export class WebgpuResidency {
  private device: GpuDevice | undefined;
  private readonly buffers = new Map<string, { readonly buffer: GpuBuffer; readonly floats: number }>();
  private pending: ResidentPlan | undefined;
  private staging: { buffer: GpuBuffer; bytes: number } | undefined;

  /**
   * The resident plan of `pipeline`, which must have run once on gpu.js's fused encoder, or why
   * it cannot be one. `resident(slot)` says which state arrays live on the device (the others
   * are written from the host on every call).
   */
  adopt(pipeline: unknown, program: GpujsProgram, resident: (slot: StateSlot) => boolean): ResidentPlan | string {
    // gpu.createPipeline returns a function whose `pipeline` is the Pipeline holding the executor
    const ex = (pipeline as { pipeline?: { _executor?: unknown } } | undefined)?.pipeline?._executor;
    const why = unusable(ex);
    if (why) return why;
    const executor = ex as FusedEncoder;
    if (this.device && this.device !== executor._device) return 'its executor runs on another WebGPU device';
    const deviceArgs: Array<ResidentPlan['deviceArgs'][number]> = [];
    const hostArgs: Array<ResidentPlan['hostArgs'][number]> = [];
    for (const [index, s] of program.sources.entries()) {
      if (s.kind !== 'array') continue;
      const region = executor._argRegions.get(index);
      const floats = flatLength(s.dims);
      if (!region || region.flatLength !== floats) return `pipeline argument ${index} has no storage buffer of ${floats} floats`;
      if (s.from === 'state' && resident(s.slot)) deviceArgs.push({ index, key: slotKey(s.slot), region: region.buffer, bytes: floats * 4 });
      else hostArgs.push({ index, region: region.buffer, floats });
    }
    const results = new Map<number, { buffer: GpuBuffer; bytes: number }>();
    const entries = executor.plan.results.entries;
    for (let i = 0; i < entries.length; i++) {
      const read = executor._resultReads[i];
      const key = String(entries[i].key);
      if (!/^v\d+$/.test(key) || read?.kind !== 'step' || !read.buffer || !read.byteLength) return `result ${key} is not a plan buffer`;
      results.set(Number(key.slice(1)), { buffer: read.buffer, bytes: read.byteLength });
    }
    const commits = program.updates.filter((u) => resident(u.slot)).map((u) => ({ value: u.value, key: slotKey(u.slot) }));
    for (const c of commits) if (!results.has(c.value)) return `update %${c.value} is not a result`;
    this.device = executor._device;
    return { program, executor, deviceArgs, hostArgs, results, commits };
  }

  /** Whether a device is known (a plan was adopted). */
  get ready(): boolean {
    return this.device !== undefined;
  }

  /**
   * Writes the host's state arrays into the device's state buffers (made on first use) and drops
   * any pending commit: from here the device holds exactly `arrays`.
   */
  upload(arrays: Iterable<readonly [string, Float32Array]>): void {
    const device = this.need();
    this.pending = undefined;
    for (const [key, data] of arrays) {
      let b = this.buffers.get(key);
      if (b && b.floats !== data.length) {
        b.buffer.destroy();
        b = undefined;
      }
      if (!b) this.buffers.set(key, (b = stateBuffer(device, data.length)));
      device.queue.writeBuffer(b.buffer, 0, data);
    }
  }

  /** Writes those of `arrays` that have no device buffer yet (state that never changes, such as index lists), leaving any pending commit alone. */
  uploadMissing(arrays: Iterable<readonly [string, Float32Array]>): void {
    const device = this.need();
    for (const [key, data] of arrays) {
      if (this.buffers.has(key)) continue;
      const b = stateBuffer(device, data.length);
      this.buffers.set(key, b);
      device.queue.writeBuffer(b.buffer, 0, data);
    }
  }

  /**
   * Runs `plan` once: host arguments and per-call scalars written, pending updates committed,
   * state buffers copied in, every pass, then `reads` copied out, all in one submission.
   * Resolves to the values read. `args` holds every pipeline argument (arrays flat).
   */
  async run(plan: ResidentPlan, args: ReadonlyArray<Float32Array | number>, reads: ReadonlyArray<number>): Promise<Map<number, Float32Array>> {
    const device = this.need();
    const ex = plan.executor;
    if (ex.destroyed) throw new Error('gpujs:webgpu: the program\'s fused executor was destroyed');
    const queue = device.queue;
    for (const h of plan.hostArgs) {
      const data = args[h.index];
      if (!(data instanceof Float32Array) || data.length !== h.floats) throw new Error(`gpujs:webgpu: argument ${h.index} must be ${h.floats} floats`);
      queue.writeBuffer(h.region, 0, data);
    }
    for (const record of ex._paramsRecords) {
      if (!record.perCall) continue;
      for (const slot of record.perCallScalars) ex._writeScalar(record.u32, record.i32, record.f32, slot, args[slot.index] as number);
      if (record.seedOffset !== null) record.u32[record.seedOffset / 4] = (Math.random() * 0x100000000) >>> 0;
      queue.writeBuffer(record.paramsBuffer, 0, new Uint8Array(record.mirror));
    }
    const encoder = device.createCommandEncoder();
    this.encodeCommit(encoder);
    for (const a of plan.deviceArgs) {
      const b = this.buffers.get(a.key);
      if (!b || b.floats * 4 !== a.bytes) throw new Error(`gpujs:webgpu: no device copy of ${a.key} (state not uploaded)`);
      encoder.copyBufferToBuffer(b.buffer, 0, a.region, 0, a.bytes);
    }
    for (const step of ex._passes) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(step.pipeline);
      pass.setBindGroup(0, step.bindGroup);
      pass.dispatchWorkgroups(step.groups[0], step.groups[1], step.groups[2]);
      pass.end();
    }
    return this.finishWithReads(encoder, reads.map((v) => [v, this.resultOf(plan, v)] as const));
  }

  /** Reads results of `plan`'s last call again (its plan buffers still hold them), in a submission of their own. */
  readLast(plan: ResidentPlan, values: ReadonlyArray<number>): Promise<Map<number, Float32Array>> {
    return this.finishWithReads(this.need().createCommandEncoder(), values.map((v) => [v, this.resultOf(plan, v)] as const));
  }

  /** Accepts `plan`'s last call: its state updates are committed at the start of the next submission. */
  setPending(plan: ResidentPlan): void {
    if (plan.commits.length > 0) this.pending = plan;
  }

  /** Whether `plan`'s updates still wait to be committed (its plan buffers are the only copy). */
  isPending(plan: ResidentPlan): boolean {
    return this.pending === plan;
  }

  /** Commits a pending update now (one submission), e.g. before its pipeline is destroyed. */
  flush(): void {
    if (!this.pending || !this.device) return;
    const encoder = this.device.createCommandEncoder();
    this.encodeCommit(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Commits any pending update and reads the state buffers `include` names back (one submission), by slot key. */
  async download(include: (key: string) => boolean = () => true): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    if (!this.device) return out;
    const encoder = this.device.createCommandEncoder();
    this.encodeCommit(encoder);
    const wanted = [...this.buffers].filter(([key]) => include(key));
    let bytes = 0;
    const at = new Map<string, number>();
    for (const [key, b] of wanted) {
      at.set(key, bytes);
      bytes += b.floats * 4;
    }
    const staging = this.device.createBuffer({ size: Math.max(4, bytes), usage: MAP_READ | COPY_DST });
    try {
      for (const [key, b] of wanted) encoder.copyBufferToBuffer(b.buffer, 0, staging, at.get(key)!, b.floats * 4);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_READ);
      const mapped = staging.getMappedRange();
      for (const [key, b] of wanted) out.set(key, new Float32Array(mapped.slice(at.get(key)!, at.get(key)! + b.floats * 4)));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    return out;
  }

  /** Frees the state and staging buffers. */
  destroy(): void {
    for (const b of this.buffers.values()) b.buffer.destroy();
    this.buffers.clear();
    this.staging?.buffer.destroy();
    this.staging = undefined;
    this.pending = undefined;
  }

  private need(): GpuDevice {
    if (!this.device) throw new Error('gpujs:webgpu: no WebGPU device yet (no plan adopted)');
    return this.device;
  }

  private resultOf(plan: ResidentPlan, v: number) {
    const r = plan.results.get(v);
    if (!r) throw new Error(`gpujs:webgpu: %${v} is not a result of the ${plan.program.kind} program`);
    return r;
  }

  /** Copies the pending plan's updates into the state buffers, and forgets it. */
  private encodeCommit(encoder: GpuEncoder): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    for (const c of p.commits) {
      const from = p.results.get(c.value)!;
      const to = this.buffers.get(c.key);
      if (!to || to.floats * 4 !== from.bytes) throw new Error(`gpujs:webgpu: no device copy of ${c.key} to commit to`);
      encoder.copyBufferToBuffer(from.buffer, 0, to.buffer, 0, from.bytes);
    }
  }

  /** Copies `reads` into the staging buffer, submits `encoder`, and resolves to their values. */
  private async finishWithReads(encoder: GpuEncoder, reads: ReadonlyArray<readonly [number, { buffer: GpuBuffer; bytes: number }]>): Promise<Map<number, Float32Array>> {
    const device = this.need();
    const bytes = reads.reduce((n, [, r]) => n + r.bytes, 0);
    if (bytes === 0) {
      device.queue.submit([encoder.finish()]);
      return new Map();
    }
    if (!this.staging || this.staging.bytes < bytes) {
      this.staging?.buffer.destroy();
      this.staging = { buffer: device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST }), bytes };
    }
    const staging = this.staging.buffer;
    let at = 0;
    for (const [, r] of reads) {
      encoder.copyBufferToBuffer(r.buffer, 0, staging, at, r.bytes);
      at += r.bytes;
    }
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MAP_READ);
    const mapped = staging.getMappedRange();
    const out = new Map<number, Float32Array>();
    at = 0;
    for (const [v, r] of reads) {
      out.set(v, new Float32Array(mapped.slice(at, at + r.bytes)));
      at += r.bytes;
    }
    staging.unmap();
    return out;
  }
}
