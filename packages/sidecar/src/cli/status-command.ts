/**
 * `command-manager status <request_id>`: a request's progress (`GET /requests/:id`) as a progress bar;
 * `--watch` redraws it at each event of `GET /requests/:id/events` until the request is done (core's
 * `isRequestDone`, on the record and counts the API returns) and exits with ORDERS_FAILED when orders
 * failed. Against a server that answers the event stream 404, `--watch` polls every `--interval-ms`.
 */
import { parseArgs } from 'node:util';
import { isRequestDone, type RequestRecord, type StatusCounts } from '@command-manager/core';
import { cliClient } from './cli-client';
import { CLIENT_OPTIONS } from './client-options';
import { ExitCodes } from './exit-codes';
import { renderProgress } from './progress-bar';
import { followProgress } from './progress-stream';

export const STATUS_USAGE = `  status <request_id>           a request's progress; --watch redraws a progress bar (pushed events) until it ends`;

interface ProgressAnswer {
  request: RequestRecord;
  counts: StatusCounts;
  progress: number;
  done: boolean;
  rollout: { stopped: boolean };
}

export async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...CLIENT_OPTIONS,
      watch: { type: 'boolean', default: false },
      'interval-ms': { type: 'string', default: '500' },
    },
    allowPositionals: true,
    strict: true,
  });
  const id = positionals[0];
  if (id === undefined || !/^\d+$/.test(id)) {
    console.error('status needs a numeric request id');
    return ExitCodes.USAGE;
  }
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 10) {
    console.error('--interval-ms must be an integer of at least 10');
    return ExitCodes.USAGE;
  }
  const api = cliClient(values);
  const tty = process.stderr.isTTY === true && !values.json;
  const show = (p: ProgressAnswer): boolean => {
    const finished = isRequestDone(p.request, p.counts, new Date());
    const view = {
      requestId: p.request.request_id,
      total: p.request.total_orders,
      counts: p.counts,
      done: finished,
      rolloutStopped: p.rollout.stopped,
    };
    if (values.json) console.log(JSON.stringify(p));
    else if (tty) process.stderr.write(`\r${renderProgress(view)}\x1b[K`);
    else console.log(renderProgress(view));
    return finished;
  };
  const exitCode = (p: ProgressAnswer, finished: boolean): number => {
    if (tty) process.stderr.write('\n');
    return finished && p.counts.failure > 0 && values.watch ? ExitCodes.ORDERS_FAILED : ExitCodes.OK;
  };
  if (values.watch) {
    // Pushed progress; polling only against a server without event streams.
    const final = await followProgress<ProgressAnswer>(api, id, show);
    if (final !== 'unsupported')
      return exitCode(final, isRequestDone(final.request, final.counts, new Date()));
  }
  for (;;) {
    const p = await api.request<ProgressAnswer>('GET', `/_plugins/_command_manager/requests/${id}`);
    const finished = show(p);
    if (!values.watch || finished) return exitCode(p, finished);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
