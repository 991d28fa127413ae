/**
 * Resolves `@command-manager/<pkg>` for processes outside jest (test children, benchmarks) when Node's own
 * resolution cannot (the repository root does not depend on the workspace packages): to
 * `packages/<pkg>/src/index.ts` (needs ts-node) or to the built `packages/<pkg>/dist/index.js`.
 */
import { existsSync } from 'node:fs';
// Named imports only: this file also runs under ts-node without esModuleInterop (`Module.Module` is itself).
import { Module } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../../..');
type Resolve = (request: string, ...rest: unknown[]) => string;

export function registerWorkspaceResolver(mode: 'src' | 'dist'): void {
  const mod = Module as unknown as { _resolveFilename: Resolve };
  const original = mod._resolveFilename;
  mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    const m = /^@command-manager\/([a-z-]+)$/.exec(request);
    if (m) {
      const pkg = join(root, 'packages', m[1] as string);
      const target = mode === 'dist' ? join(pkg, 'dist', 'index.js') : join(pkg, 'src', 'index.ts');
      if (existsSync(target)) return original.call(this, target, ...rest);
    }
    return original.call(this, request, ...rest);
  };
}
