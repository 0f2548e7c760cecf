/**
 * Golden tests of code generator 2 (the cpu backend): the generated JavaScript and WebAssembly
 * text of dense-mlp's training step at batch 64 must equal the checked-in files in
 * test/codegen/golden/. A change to the generator shows up here as a diff to review; when the
 * change is intended, rewrite the files with
 *
 *   WINNOW_UPDATE_GOLDEN=1 npx vitest run test/codegen/golden.test.ts
 *
 * and commit them with the change.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { openKernelSources, type OpenedSources, type ProgramSources } from '../../runtime/kernel-sources.ts';

const dir = join('test', 'codegen', 'golden');
const update = process.env.WINNOW_UPDATE_GOLDEN === '1';

/** A short report of where two texts first differ (line numbers and a few lines around it). */
export const firstDifference = (expected: string, actual: string): string => {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const around = (lines: string[]) => lines.slice(Math.max(0, i - 3), i + 4).map((l, j) => `${String(Math.max(0, i - 3) + j + 1).padStart(5)}| ${l}`).join('\n');
  return `first difference at line ${i + 1} (golden has ${a.length} lines, generated ${b.length}):\n--- golden\n${around(a)}\n--- generated\n${around(b)}`;
};

/** Compares `text` with the golden file `name` (or rewrites it when WINNOW_UPDATE_GOLDEN=1). */
const golden = (name: string, text: string): void => {
  const file = join(dir, name);
  if (update) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
    return;
  }
  if (!existsSync(file)) expect.fail(`${file} is missing; run WINNOW_UPDATE_GOLDEN=1 npx vitest run test/codegen/golden.test.ts`);
  const want = readFileSync(file, 'utf8');
  const got = text.endsWith('\n') ? text : `${text}\n`;
  if (want !== got) expect.fail(`${file} differs from the generated source; if the change is intended, rerun with WINNOW_UPDATE_GOLDEN=1 and commit the file.\n${firstDifference(want, got)}`);
};

describe('golden cpu sources: dense-mlp training step, batch 64', () => {
  let opened: OpenedSources;
  let train: ProgramSources;
  beforeAll(async () => {
    opened = await openKernelSources('cpu', lower(trace(readModelFile('examples/models/dense-mlp.json'))));
    train = await opened.sources('train', 64);
  });
  afterAll(() => opened?.dispose());

  it('generates one JavaScript program and one WebAssembly module', () => {
    expect(train.files.map((f) => f.name)).toEqual(['train.js', 'train.wat']);
    // 19 kernels of the dense IR, the first layer's forward becoming compactInput + transpose + gather (pass sparseForms)
    expect(train.kernels).toHaveLength(21);
    expect(train.kernels.slice(0, 3)).toEqual(['k0_compactInput', 'k1_transpose', 'k2_gather_biasAdd_relu']);
  });

  it('the JavaScript matches test/codegen/golden/dense-mlp.train.b64.js', () => {
    golden('dense-mlp.train.b64.js', train.files.find((f) => f.language === 'js')!.text);
  });

  it('the WebAssembly text matches test/codegen/golden/dense-mlp.train.b64.wat', () => {
    golden('dense-mlp.train.b64.wat', train.files.find((f) => f.language === 'wat')!.text);
  });

  it('generation is deterministic: a second model generates the same text', async () => {
    const again = await openKernelSources('cpu', lower(trace(readModelFile('examples/models/dense-mlp.json'))));
    try {
      expect((await again.sources('train', 64)).files).toEqual(train.files);
    } finally {
      again.dispose();
    }
  });

  it('firstDifference points at the changed line', () => {
    expect(firstDifference('a\nb\nc', 'a\nB\nc')).toMatch(/^first difference at line 2 \(golden has 3 lines, generated 3\)/);
  });
});
