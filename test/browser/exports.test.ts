/**
 * `winnow/browser` (runtime/browser.ts) against the Node entry points: it must offer everything
 * `winnow/dsl` does except `readModelFile` (which reads files), everything `winnow/compiler` does,
 * and the same backend names, with the browser's gpujs host (no headless-gl). Runs in Node: the
 * browser itself is test/browser/webgl2-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as compiler from '../../compiler/index.ts';
import * as dsl from '../../dsl/index.ts';
import * as browser from '../../runtime/browser.ts';

describe('winnow/browser exports', () => {
  it('the DSL without readModelFile, and the whole compiler, as the same values', () => {
    const offered = browser as Record<string, unknown>;
    const dslNames = Object.keys(dsl).filter((n) => n !== 'readModelFile');
    expect(dslNames.filter((n) => offered[n] !== (dsl as Record<string, unknown>)[n])).toEqual([]);
    expect(offered.readModelFile).toBeUndefined();
    expect(Object.keys(compiler).filter((n) => offered[n] !== (compiler as Record<string, unknown>)[n])).toEqual([]);
  });

  it('registers every backend name, with the browser answers for the GL modes', async () => {
    expect(browser.registeredBackends()).toEqual(browser.backendNames.filter((n) => n !== 'auto'));
    await expect(browser.resolveBackend('gpujs:headlessgl')).rejects.toThrow(/^backend "gpujs:headlessgl" is not available here: headless-gl is for Node; in a browser use gpujs:webgl2$/);
    await expect(browser.resolveBackend('gpujs:webgl2')).rejects.toThrow(/gpu\.js finds no WebGL2 here/); // Node has no WebGL2
    expect((await browser.resolveBackend('cpu')).name).toBe('cpu');
  });
});
