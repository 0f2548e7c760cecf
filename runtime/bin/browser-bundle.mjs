// The esbuild options of the browser bundle (`winnow/browser`, dist/browser.mjs): runtime/browser.ts
// and everything it imports, gpu.js included, in one ES module. Used by build.mjs and by the browser
// test (test/browser), which builds the same bundle from the current sources.
//
// Node's built-in modules must not reach the bundle: the plugin below fails the build, naming the
// importer, when a module imports one statically. Two kinds of reference stay legal, because they
// only run in Node: a dynamic `import('node:...')` (Node-only code loaded lazily, with a fallback;
// in the bundle it rejects with "not available in a browser"), and wabt's `require('fs')` (the cpu
// backend's WebAssembly assembler, compiled with Emscripten, requires it only on its Node path; it
// gets an empty module).
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const nodeBuiltins = new Set(builtinModules);

/** @param {string} root */
const noNodeBuiltins = (root) => ({
  name: 'no-node-builtins',
  /** @param {import('esbuild').PluginBuild} b */
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!args.path.startsWith('node:') && !nodeBuiltins.has(name)) return undefined;
      if (args.kind === 'require-call' && /[\\/]node_modules[\\/]wabt[\\/]/.test(args.importer)) return { path: name, namespace: 'node-only-path' };
      if (args.kind === 'dynamic-import') return { path: name, namespace: 'node-only-lazy' };
      return { errors: [{ text: `Node's ${JSON.stringify(args.path)} would reach the browser bundle (imported by ${relative(root, args.importer)}): move the Node-only code to a module the browser entry does not import` }] };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-only-path' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only-lazy' }, (args) => ({ contents: `throw new Error(${JSON.stringify(`node:${args.path} is not available in a browser`)});`, loader: 'js' }));
  },
});

/**
 * esbuild options that bundle runtime/browser.ts (under `root`) into `outfile`.
 * @param {string} root the package root
 * @param {string} outfile
 * @returns {import('esbuild').BuildOptions}
 */
export const browserBundle = (root, outfile) => ({
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [noNodeBuiltins(root)],
  entryPoints: [join(root, 'runtime', 'browser.ts')],
  outfile,
});
