/**
 * Loaded first by `main.ts`: installs test-support's `register-source` hook, which makes
 * `@command-manager/<pkg>` and `@command-manager-examples/<name>` resolve to their sources, so the
 * end-to-end run exercises the tree as it is, with no `pnpm build` first. Loaded by path: no package
 * resolves by name before the hook is in place.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
createRequire(__filename)(path.join(ROOT, 'packages', 'test-support', 'src', 'register-source.ts'));
