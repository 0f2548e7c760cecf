/**
 * runtime/gpu/node-webgpu.ts: Dawn at navigator.gpu for gpu.js's webgpu mode. Without a GPU this is
 * Mesa llvmpipe through Dawn's OpenGL ES backend (CI installs Mesa's EGL, see .ci/run). These tests
 * fail when no adapter can be had, unless WINNOW_SKIP_WEBGPU=1.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { GPU } from 'gpu.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { installNodeWebGPU, releaseNodeWebGPU, type NodeWebGPUStatus } from '../../runtime/gpu/node-webgpu.ts';
import { call, flat, input, maxError, requireWebGPU, settings, skipWebGPU, values } from './helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('installNodeWebGPU answers failures in one line, never throws', () => {
  // A fresh copy of the module each time, over a stand-in for the webgpu package, with a libEGL.so
  // on LD_LIBRARY_PATH so that it gets as far as Dawn's OpenGL ES backend on any machine.
  const fresh = async (factory: () => Record<string, unknown>): Promise<NodeWebGPUStatus> => {
    const dir = mkdtempSync(join(tmpdir(), 'winnow-egl-'));
    writeFileSync(join(dir, 'libEGL.so'), '');
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = saved ? `${dir}${delimiter}${saved}` : dir;
    vi.resetModules();
    vi.doMock('webgpu', factory);
    try {
      const m = await import('../../runtime/gpu/node-webgpu.ts');
      return await m.installNodeWebGPU();
    } finally {
      vi.doUnmock('webgpu');
      vi.resetModules();
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('when dawn.node cannot load', async () => {
    // (vitest replaces the factory's error with its own one-line message)
    const status = await fresh(() => {
      throw new Error("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by dawn.node)\n    at Module._extensions..node");
    });
    expect(status.ok).toBe(false);
    if (!status.ok) {
      expect(status.reason).toMatch(/^the webgpu package \(Dawn\) cannot load here: \S/);
      expect(status.reason).not.toContain('\n');
    }
  });

  it('when Dawn throws', async () => {
    const status = await fresh(() => ({
      create: () => {
        throw new Error('dawn exploded\n    at somewhere (dawn.cpp:1)');
      },
    }));
    expect(status).toEqual({ ok: false, reason: 'WebGPU setup failed: dawn exploded' });
  });

  it('when no backend gives an adapter', async () => {
    const status = await fresh(() => ({ create: () => ({ requestAdapter: async () => null }) }));
    expect(status.ok).toBe(false);
    if (!status.ok) {
      expect(status.reason).toMatch(/^no WebGPU adapter: .* and OpenGL ES over EGL gave none/);
      expect(status.reason).not.toContain('\n');
    }
  });
});

describe.skipIf(skipWebGPU)('installNodeWebGPU on this machine', () => {
  beforeAll(requireWebGPU);

  it('finds an adapter, says whether it is a software renderer, and answers the same every call', async () => {
    const status = await installNodeWebGPU();
    expect(status.ok).toBe(true);
    if (!status.ok) return;
    expect(status.adapter.length).toBeGreaterThan(0);
    if (/llvmpipe|swiftshader|lavapipe/i.test(status.adapter)) expect(status.software).toBe(true);
    expect(['default', 'opengles']).toContain(status.backend);
    expect(await installNodeWebGPU()).toBe(status);
    expect(GPU.isWebGPUSupported).toBe(true);
    expect(await GPU.isWebGPUAvailable()).toBe(true);
  });

  it('devices get the adapter\'s storage-buffer limit: a kernel with 9 array arguments runs (the default 8 buffers would refuse it)', async () => {
    const gpu = new GPU({ mode: 'webgpu' });
    try {
      const names = Array.from({ length: 9 }, (_, i) => `a${i}`);
      const kernel = gpu.createKernel(`function (${names.join(', ')}) { return ${names.map((n) => `${n}[this.thread.x]`).join(' + ')}; }`, settings([2]));
      expect(flat(await call(kernel, ...names.map((_, i) => Float32Array.from([i, 1]))))).toEqual([36, 9]);
    } finally {
      await gpu.destroy();
    }
  });
});

describe('createPipeline of three kernels (dense, ReLU, dense) fuses and equals per-kernel calls', () => {
  const x = values(4 * 16, 21);
  const w1 = values(8 * 16, 22);
  const w2 = values(3 * 8, 23);

  const run = async (mode: 'webgpu' | 'webasm') => {
    const gpu = new GPU({ mode });
    try {
      const dense1 = gpu.createKernel('function (x, w) { let s = 0.0; for (let i = 0; i < 16; i++) { s += x[this.thread.y][i] * w[this.thread.x][i]; } return s; }', settings([8, 4]));
      const relu = gpu.createKernel('function (h) { return Math.max(h[this.thread.y][this.thread.x], 0.0); }', settings([8, 4]));
      const dense2 = gpu.createKernel('function (h, w) { let s = 0.0; for (let i = 0; i < 8; i++) { s += h[this.thread.y][i] * w[this.thread.x][i]; } return s; }', settings([3, 4]));
      const args = () => [input(x, [16, 4]), input(w1, [16, 8]), input(w2, [8, 3])] as const;
      const [xi, w1i, w2i] = args();
      const separate = flat(await call(dense2, await call(relu, await call(dense1, xi, w1i)), w2i));
      const pipeline = gpu.createPipeline(
        function (a: unknown, b: unknown, c: unknown) {
          return (dense2 as (...v: unknown[]) => unknown)((relu as (...v: unknown[]) => unknown)((dense1 as (...v: unknown[]) => unknown)(a, b)), c);
        } as never,
        { threads: false } as never,
      ) as unknown as ((...v: unknown[]) => Promise<unknown>) & { executorKind: string; fallbackReason: string | null };
      const fused = flat(await pipeline(...args()));
      return { separate, fused, kind: pipeline.executorKind, reason: pipeline.fallbackReason };
    } finally {
      await gpu.destroy();
    }
  };

  const want = (() => {
    const h = new Float64Array(32);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 8; c++) for (let i = 0; i < 16; i++) h[r * 8 + c] += x[r * 16 + i] * w1[c * 16 + i];
    const y = new Float64Array(12);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 3; c++) for (let i = 0; i < 8; i++) y[r * 3 + c] += Math.max(h[r * 8 + i], 0) * w2[c * 8 + i];
    return y;
  })();

  it.skipIf(skipWebGPU)('on webgpu: executorKind fused-encoder', async () => {
    await requireWebGPU();
    const { separate, fused, kind, reason } = await run('webgpu');
    expect(kind).toBe('fused-encoder');
    expect(reason).toBeNull();
    expect(fused).toEqual(separate);
    expect(maxError(fused, want)).toBeLessThan(1e-5);
  });

  it('on webasm with threads: false: executorKind fused-sync', async () => {
    const { separate, fused, kind, reason } = await run('webasm');
    expect(kind).toBe('fused-sync');
    expect(reason).toBeNull();
    expect(fused).toEqual(separate);
    expect(maxError(fused, want)).toBeLessThan(1e-5);
  });
});

describe.skipIf(skipWebGPU)('process lifetime with Dawn loaded', () => {
  let script: string;
  beforeAll(async () => {
    await requireWebGPU();
    const dir = join(root, 'node_modules', '.cache', 'winnow-test');
    mkdirSync(dir, { recursive: true });
    script = join(dir, 'webgpu-exit.mjs');
    // A plain Node program (no vitest around it) that runs a webgpu kernel and then just ends.
    const contents = [
      "import { GPU } from 'gpu.js';",
      "import { installNodeWebGPU } from './runtime/gpu/node-webgpu.ts';",
      'const status = await installNodeWebGPU();',
      "if (!status.ok) { console.log('no adapter: ' + status.reason); process.exit(3); }",
      "const gpu = new GPU({ mode: 'webgpu' });",
      "const k = gpu.createKernel('function (a) { return a[this.thread.x] * 2.0; }', { output: [4], pipeline: true });",
      "const p = gpu.createPipeline(function (a) { return k(k(a)); });",
      'const r = await p(Float32Array.from([1, 2, 3, 4]));',
      "console.log('done ' + Array.from(r).join(','));",
    ].join('\n');
    await build({
      stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'webgpu-exit.ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['gpu.js', 'webgpu'],
      outfile: script,
      logLevel: 'silent',
    });
  });

  it('a program that used webgpu and released nothing exits by itself at once', async () => {
    const child = spawn(process.execPath, [script], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    let doneAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!doneAt && out.includes('done')) doneAt = performance.now();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    expect(out.trim()).toBe('done 4,8,12,16');
    expect(code).toBe(0);
    expect(performance.now() - doneAt).toBeLessThan(2_000);
  });

});

describe.skipIf(skipWebGPU)('releaseNodeWebGPU (last in this file: it destroys the shared device)', () => {
  it('removes navigator.gpu; a later install starts over and works', async () => {
    await requireWebGPU();
    await releaseNodeWebGPU();
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
    const again = await installNodeWebGPU();
    expect(again.ok).toBe(true);
    const gpu = new GPU({ mode: 'webgpu' });
    const k = gpu.createKernel('function (a) { return a[this.thread.x] + 1.0; }', settings([2]));
    expect(flat(await call(k, Float32Array.from([1, 2])))).toEqual([2, 3]);
    await gpu.destroy();
    await releaseNodeWebGPU();
  });
});
