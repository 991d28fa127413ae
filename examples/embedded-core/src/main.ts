/**
 * The content manager embedding the core library:
 *   node -r ts-node/register/transpile-only examples/embedded-core/src/main.ts [offset]
 * Prints the submission's answer and the order written, as JSON.
 */
import { runEmbeddedExample } from './embedded-core';

runEmbeddedExample(process.argv[2] ?? '0')
  .then(({ submitted, order }) => {
    console.log(JSON.stringify({ submitted, order: { id: order.id, ...order.order } }, null, 2));
  })
  .catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
