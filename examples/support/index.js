'use strict';
/*
 * The package's runtime entry. The examples run from their sources under ts-node
 * (`node -r ts-node/register/transpile-only examples/<name>/src/main.ts`, also how their tests spawn them),
 * with no build: under a TypeScript loader this loads `src/` too, so that they keep needing no build and
 * never pick up a stale `dist/`. Plain Node (no `.ts` loader) gets the build (`pnpm --filter
 * @command-manager-examples/support build`).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
module.exports = require.extensions['.ts'] ? require('./src/index.ts') : require('./dist/index.js');
