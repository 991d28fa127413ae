/**
 * Loaded first (with `node -r`, after `ts-node/register/transpile-only`) into the processes tests, examples
 * and the fault suite start: makes `@command-manager/<pkg>` resolve to `packages/<pkg>/src/index.ts` and
 * `@command-manager-examples/<name>` to `examples/<name>/src/index.ts`, as jest's `moduleNameMapper` does for
 * the tests themselves. The processes thus run the sources as they are, with no `pnpm build` first and no
 * stale `dist/`. `REGISTER_SOURCE` (exported by the package) is this file's path.
 *
 * It hooks `Module._resolveFilename`, the CommonJS resolver that Node's `require` calls for every request
 * (the hook tsconfig-paths uses too). It does nothing unless a TypeScript loader is registered
 * (`require.extensions['.ts']`, set by ts-node), since Node cannot load the `.ts` files it points to
 * otherwise, and it hooks once however often it is loaded. It imports nothing of the workspace: nothing
 * resolves by package name before it.
 */
import { existsSync } from 'node:fs';
// Named import: this file also runs under ts-node without esModuleInterop (`Module.Module` is itself).
import { Module } from 'node:module';
import path from 'node:path';

/** The repository root (this file is `packages/test-support/src/register-source.ts`). */
const ROOT = path.resolve(__dirname, '..', '..', '..');

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const loader = Module as unknown as {
  _resolveFilename: ResolveFilename & { commandManagerSource?: true };
  _extensions: Record<string, unknown>;
};

function sourceOf(request: string): string | undefined {
  const m = /^@command-manager(-examples)?\/([a-z0-9-]+)$/.exec(request);
  if (!m?.[2]) return undefined;
  const file = path.join(ROOT, m[1] ? 'examples' : 'packages', m[2], 'src', 'index.ts');
  return existsSync(file) ? file : undefined;
}

if (loader._extensions['.ts'] !== undefined && !loader._resolveFilename.commandManagerSource) {
  const resolve = loader._resolveFilename;
  const hooked: ResolveFilename & { commandManagerSource?: true } = function (
    this: unknown,
    request,
    parent,
    isMain,
    options,
  ) {
    return sourceOf(request) ?? resolve.call(this, request, parent, isMain, options);
  };
  hooked.commandManagerSource = true;
  loader._resolveFilename = hooked;
}
