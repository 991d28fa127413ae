/**
 * The error of type `type` that `fn` throws; any other error is rethrown, and a `fn` that returns fails with
 * `missing`.
 */
export function thrownBy<E extends Error>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
  missing = `expected a ${type.name}`,
): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(missing);
}
