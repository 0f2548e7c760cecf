/**
 * Assembles generated WebAssembly text with wabt (the reference WebAssembly toolkit, compiled to
 * JavaScript): the code generator emits readable, diffable WAT, and wabt turns it into a module.
 * Modules are cached by their text.
 */
import wabtInit from 'wabt';

let toolkit: Promise<Awaited<ReturnType<typeof wabtInit>>> | undefined;
const cache = new Map<string, WebAssembly.Module>();

/** The binary of a WAT module. */
export const watToBinary = async (wat: string): Promise<Uint8Array> => {
  toolkit ??= wabtInit();
  const wabt = await toolkit;
  const parsed = wabt.parseWat('winnow.wat', wat, { simd: true, threads: true });
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
};

/** A compiled module of a WAT text. */
export const assembleWat = async (wat: string): Promise<WebAssembly.Module> => {
  const hit = cache.get(wat);
  if (hit) return hit;
  const module = new WebAssembly.Module((await watToBinary(wat)) as Uint8Array<ArrayBuffer>);
  cache.set(wat, module);
  return module;
};
