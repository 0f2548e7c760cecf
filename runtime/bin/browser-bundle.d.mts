import type { BuildOptions } from 'esbuild';

/** esbuild options that bundle runtime/browser.ts (under `root`) into `outfile` (see browser-bundle.mjs). */
export declare const browserBundle: (root: string, outfile: string) => BuildOptions;
