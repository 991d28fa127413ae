/**
 * Child process of request-id-allocator.int.test.ts: allocates N request ids concurrently through
 * OpenSearchRequestIdAllocator (loaded from source with ts-node) and prints them as one JSON array.
 * Usage: node allocate-ids.child.js <opensearch-url> <orders-index> <count>
 */
'use strict';
// A plain CommonJS script (it installs ts-node and the resolver hook before loading any TypeScript):
// require() is the only way to load modules here.
/* eslint-disable @typescript-eslint/no-require-imports */
const path = require('node:path');

// Own compiler options (skipProject): independent of whichever tsconfig sits in the working directory.
require('ts-node').register({
  transpileOnly: true,
  skipProject: true,
  compilerOptions: { target: 'es2022', module: 'commonjs', esModuleInterop: true },
});
// Then resolve workspace packages to their sources, as jest's moduleNameMapper does (no build needed), with
// test-support's hook, loaded by path: no package resolves by name before it.
require(path.resolve(__dirname, '..', '..', '..', 'test-support', 'src', 'register-source.ts'));

const { createOpenSearchClient, OpenSearchRequestIdAllocator } = require('@command-manager/opensearch');

async function main() {
  const [url, ordersIndex, count] = process.argv.slice(2);
  // A secured test node: the sidecar user's credentials and CA come from the environment.
  const {
    OPENSEARCH_USERNAME: username,
    OPENSEARCH_PASSWORD: password,
    OPENSEARCH_CA_FILE: caFile,
  } = process.env;
  const client = createOpenSearchClient({
    node: url,
    ...(username && { auth: { username, password: password || '' } }),
    ...(caFile && { caFile }),
  });
  try {
    const allocator = new OpenSearchRequestIdAllocator({ client, ordersIndex });
    const ids = await Promise.all(Array.from({ length: Number(count) }, () => allocator.next()));
    process.stdout.write(JSON.stringify(ids));
  } finally {
    await client.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${e && e.code ? e.code : ''} ${e && e.message ? e.message : String(e)}\n`);
  process.exit(1);
});
