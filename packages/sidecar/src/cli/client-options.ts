import { parseArgs } from 'node:util';

/** Options every API-calling CLI command takes (read by `cliClient`). */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  basic: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/**
 * Parses the options of a listing command (the client options and one string option per filter) and the
 * query string of its filters, each named as its option with `_` for `-`.
 */
export function parseListOptions<F extends string>(
  args: string[],
  filters: readonly F[],
): { values: { url?: string; token?: string; basic?: string; json?: boolean }; query: URLSearchParams } {
  const { values } = parseArgs({
    args,
    options: {
      ...CLIENT_OPTIONS,
      ...Object.fromEntries(filters.map((f) => [f, { type: 'string' as const }])),
    },
    strict: true,
  });
  const query = new URLSearchParams();
  for (const f of filters) {
    const v = (values as unknown as Record<string, string | undefined>)[f];
    if (v !== undefined) query.set(f.replace(/-/g, '_'), v);
  }
  return { values, query };
}
