import { spawnSync } from 'node:child_process';

/** Runs the built `winnow` CLI (npm test builds it first) and returns its exit code and output. */
export const winnow = (args: ReadonlyArray<string>, options: { readonly timeout?: number; readonly env?: Record<string, string> } = {}) => {
  const r = spawnSync(process.execPath, ['runtime/bin/winnow.mjs', ...args], {
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
    env: { ...process.env, ...options.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
