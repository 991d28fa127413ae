import type { Logger } from './ports';

/** A Logger that drops everything: the default when an embedder passes none. */
export const noopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => noopLogger,
};
