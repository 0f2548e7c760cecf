/**
 * Puts TensorFlow.js on its WebAssembly backend, loading the backend's .wasm binaries from the
 * installed `@tensorflow/tfjs-backend-wasm` package (nothing is downloaded).
 *
 * @example
 * import { useTfjsWasm } from './setup.ts';
 * // const { threads, simd } = await useTfjsWasm(); // threads: 1 in Node (no threaded build there)
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** What the wasm backend runs with. */
export interface TfjsWasmInfo {
  readonly version: string;
  /** Threads XNNPACK uses (`getThreadsCount()`). */
  readonly threads: number;
  readonly simd: boolean;
  readonly multithreadSupported: boolean;
}

/** Selects the wasm backend (idempotent) and says how it runs. */
export const useTfjsWasm = async (): Promise<TfjsWasmInfo> => {
  if (tf.getBackend() !== 'wasm') {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(`${dist}/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js: the wasm backend failed to start');
  }
  await tf.ready();
  return {
    version: tf.version.tfjs,
    threads: getThreadsCount(),
    simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean,
    multithreadSupported: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') as boolean,
  };
};
