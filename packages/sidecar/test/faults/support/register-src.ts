/**
 * Preloaded (`node -r`) into the sidecar processes the fault suite spawns: `@command-manager/<pkg>`
 * resolves to `packages/<pkg>/src/index.ts` (run by ts-node), so the suite tests the sources as they are,
 * with no build step, exactly like the in-process tests (jest's moduleNameMapper does the same).
 */
import { existsSync } from 'node:fs';
// Named import: this file runs under ts-node without esModuleInterop.
import { Module } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../../../..');
type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  const m = /^@command-manager\/([a-z-]+)$/.exec(request);
  if (m) {
    const target = join(root, 'packages', m[1] as string, 'src', 'index.ts');
    if (existsSync(target)) return original.call(this, target, ...rest);
  }
  return original.call(this, request, ...rest);
};
