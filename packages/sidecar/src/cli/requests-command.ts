/**
 * `command-manager requests`: a page of request records, newest first, with their counts (GET /requests).
 * One line per request: id, created_at, source, user, action, target, write state, counts, done; the cursor
 * of the next page last. `--json` prints the API's answer as it is.
 */
import type { ApiClient } from './api-client';
import { parseListOptions } from './client-options';

const FILTERS = ['source', 'user', 'action', 'status', 'from', 'to', 'size', 'cursor'] as const;

export const REQUESTS_USAGE = `  requests                      list requests, newest first: [--source S] [--user U] [--action A]
                                  [--status S,S] [--from ISO] [--to ISO] [--size N] [--cursor C]`;

interface RequestsAnswer {
  requests: Array<{
    request: {
      request_id: number;
      created_at: string;
      write_state: string;
      command: {
        source: string;
        user: string;
        target: { type: string; id: string };
        action: { name: string };
      };
    };
    counts: { pending: number; sent: number; success: number; failure: number };
    done: boolean;
  }>;
  cursor?: string;
}

/** Runs the command; `makeClient` builds the API client from the client options. */
export async function requestsCommand(
  args: string[],
  makeClient: (values: { url?: string; token?: string; basic?: string }) => ApiClient,
): Promise<number> {
  const { values, query } = parseListOptions(args, FILTERS);
  const answer = await makeClient(values).request<RequestsAnswer>(
    'GET',
    `/_plugins/_command_manager/requests?${query.toString()}`,
  );
  if (values.json) {
    console.log(JSON.stringify(answer));
    return 0;
  }
  for (const { request: r, counts: c, done } of answer.requests) {
    const cmd = r.command;
    console.log(
      [
        r.request_id,
        r.created_at,
        cmd.source,
        cmd.user,
        cmd.action.name,
        `${cmd.target.type}:${cmd.target.id}`,
        r.write_state,
        `pending ${c.pending} sent ${c.sent} success ${c.success} failure ${c.failure}`,
        done ? 'done' : 'open',
      ].join('\t'),
    );
  }
  if (answer.cursor) console.log(`(more: --cursor ${answer.cursor})`);
  return 0;
}
