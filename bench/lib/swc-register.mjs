/**
 * A minimal `.ts` loader for benchmark child processes that must weigh what the product weighs: it compiles
 * each TypeScript file with swc (native code, already a dependency of the test runner) as it is required,
 * without loading the TypeScript compiler into the process as ts-node does (about 35 MB of heap, which
 * changes how V8 sizes and collects a heap capped like the sidecar's). Types are not checked here;
 * `pnpm typecheck` does that.
 *
 * Use: node --import <this file's URL> -e "require(<file.ts>)" (a .ts entry point given directly would go to
 * Node's ES module loader, which refuses it).
 */
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import swc from '@swc/core';

Module._extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: false,
  });
  module._compile(code, filename);
};
