/** Runs `f`, which must throw, and returns what it threw. */
export const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, but nothing was thrown');
};
