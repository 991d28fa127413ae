import path from 'node:path';

/**
 * The path of `src/register-source.ts` (from the sources or from `dist`), to preload with `node -r` after
 * `ts-node/register/transpile-only` into a process that should run the workspace's sources.
 */
export const REGISTER_SOURCE = path.resolve(__dirname, '..', 'src', 'register-source.ts');
