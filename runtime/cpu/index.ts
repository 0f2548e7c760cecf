/**
 * Registration of the `cpu` backend: always available (WebAssembly SIMD is part of Node 20 and
 * every current browser).
 */
import type { BackendModule } from '../backends.ts';

/** The `cpu` backend module. */
export const cpuBackend: BackendModule = {
  name: 'cpu',
  backend: {
    available: async () => (typeof WebAssembly === 'object' && WebAssembly.validate(simdProbe) ? undefined : 'WebAssembly SIMD is not supported by this runtime'),
    create: async (lowered, state) => (await import('./model.ts')).createCpuModel(lowered, state),
  },
};

/** A minimal module using one SIMD instruction (v128.const; drop). */
const simdProbe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 23, 1, 21, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 26, 11]);
