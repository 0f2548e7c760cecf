/**
 * The generated sources of the gpujs:* backends, for `winnow inspect --kernels` and anyone who
 * wants to read what they run: one gpu.js kernel per schedule kernel, each listed with what its
 * parameters bind to (`kernelListing`). Generating them needs no GPU and no gpu.js, and every
 * gpujs mode runs the same sources. Shaped like runtime/kernel-sources.ts's `KernelSourceProvider`.
 *
 * @example
 * import { gpujsKernelSources } from 'winnow/runtime/gpujs/sources';
 * // const open = await gpujsKernelSources(lowered);
 * // (await open.sources('train', 64)).files[0].text; // 'kernel k0_linear_biasAdd_relu: writes %5 as [1000, 64], ...'
 */
import { gpujsKernels, kernelListing } from '../../compiler/codegen/gpujs/kernels.ts';
import { compile, type ProgramKind } from '../../compiler/backend/compile.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { gpujsCompileOptions } from './program.ts';

/** One generated text. */
export interface GpujsSourceFile {
  readonly name: string;
  readonly language: string;
  readonly text: string;
}

/** A lowered network's gpu.js kernel sources, program by program. */
export const gpujsKernelSources = async (lowered: Lowered) => ({
  sources: async (program: ProgramKind, batch: number) => {
    const kernels = gpujsKernels(compile(lowered, { program, batch, ...gpujsCompileOptions }).schedule, batch);
    return {
      program,
      batch,
      kernels: kernels.map((k) => k.name),
      files: kernels.map((k): GpujsSourceFile => ({ name: k.name, language: 'js', text: kernelListing(k) })),
    };
  },
  dispose: () => undefined,
});
