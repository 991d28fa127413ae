/**
 * The load generator of bench/api-submit.bench.ts, in a process of its own: autocannon's own CPU (tens of
 * microseconds per request) must not be taken from the process under test, and both sides of the comparison
 * (the API and raw OpenSearch) are driven the same way.
 *
 * Usage: node bench/lib/load-generator.mjs '<autocannon options as JSON>'
 * Prints autocannon's result as one JSON line on stdout.
 */
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}');
autocannon(options).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
