import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The built `winnow repl` with `input` on its stdin (npm test builds the CLI first). */
const repl = (args: ReadonlyArray<string>, input: string) =>
  spawnSync(process.execPath, ['runtime/bin/winnow.mjs', 'repl', ...args], { input, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WINNOW_REPL_HISTORY: '' } });

describe('winnow repl (CLI)', () => {
  it('runs commands from piped input and exits 0 at its end', () => {
    // The input ends at once; what it entered still runs, in order, before the process exits.
    const r = repl(['dense-mlp', '--backend', 'reference'], '.summary\n.backend nope\n.set layers.0.dense.units 0\n.train 1 --limit 64 --test-limit 20\n1 + 1\n');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^winnow repl: reference backend \(requested\)/);
    expect(r.stdout).toMatch(/loaded dense-mlp \(.*dense-mlp\.json\): input \[784\], /);
    expect(r.stdout).toMatch(/\n\s+total\s+1,796,010\s+1,796,010\s+100\.0%\n/);
    expect(r.stdout).toContain('\nwinnow> .backend: unknown backend "nope" (known: auto, ');
    expect(r.stdout).toContain('\nwinnow> .set: layers[0].dense.units: must be a positive integer, got 0\n');
    expect(r.stdout).toMatch(/\ndone: trained 1 epoch \(1 step\)\nwinnow> 2\nwinnow> $/);
  });

  it('refuses a bad model or flag with one line and exit code 2', () => {
    const missing = repl(['nowhere.json'], '');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('winnow repl: nowhere.json: no such file\n');
    const flag = repl(['--seed', '1.5'], '');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe('winnow repl: --seed must be a non-negative integer, got 1.5\n');
  });
});
