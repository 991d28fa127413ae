import type { Response } from 'express';
import { CommandManagerError, ErrorCodes, orderDocumentId, type SubmitResult } from '@command-manager/core';

/** Ids per `write` call: large enough to amortise the call, small enough to keep the buffer bounded (~20 KB). */
const IDS_PER_CHUNK = 1000;

/**
 * Writes the answer to a submission. Wazuh's plugin answers `{"_index", "orders": [{"_id"}...], "result"}`;
 * this adds `commands` (per command: `request_id`, `orders`, `unresolved`, `write_state`, and `excluded`
 * and `ineligible` for a command with eligibility keys). Order ids are
 * deterministic (`<request_id>-1..N`), so the `orders` array is generated while it is written, in chunks
 * that honour back-pressure: a 100,000-order answer is never held in memory at once. With `summary`, the
 * `orders` array is left out. With `bare` (one command posted without `commands`), `_id` names its first order.
 */
export async function writeSubmitResponse(
  res: Response,
  result: SubmitResult,
  summary: boolean,
  bare = false,
): Promise<void> {
  throwUnlessComplete(result);
  const firstCommand = result.commands[0];
  const head = {
    _index: result.index,
    // One command posted bare: Wazuh's plugin of that time answered with its one document's `_id`.
    ...(bare && firstCommand && firstCommand.orders > 0
      ? { _id: orderDocumentId(firstCommand.request_id, 1) }
      : {}),
    result: 'CREATED',
    commands: result.commands.map((c) => ({
      request_id: c.request_id,
      orders: c.orders,
      unresolved: c.unresolved,
      ...(c.excluded !== undefined && { excluded: c.excluded }),
      ...(c.ineligible !== undefined && { ineligible: c.ineligible }),
      write_state: c.write_state,
      ...(c.write_errors && c.write_errors.length > 0 ? { write_errors: c.write_errors } : {}),
    })),
  };
  res.status(201);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const headJson = JSON.stringify(head);
  if (summary) {
    res.end(headJson);
    return;
  }
  // Re-open the head object to append the `orders` array.
  const open = `${headJson.slice(0, -1)},"orders":[`;
  const total = result.commands.reduce((n, c) => n + c.orders, 0);
  if (total <= IDS_PER_CHUNK) {
    // A small answer (the common single-agent submission) goes out whole, with a Content-Length: one write
    // instead of three chunks of a chunked encoding.
    const ids: string[] = [];
    for (const c of result.commands) {
      for (let orderId = 1; orderId <= c.orders; orderId++) {
        ids.push(`{"_id":"${orderDocumentId(c.request_id, orderId)}"}`);
      }
    }
    res.end(`${open}${ids.join(',')}]}`);
    return;
  }
  if (!(await write(res, open))) return;
  let first = true;
  for (const c of result.commands) {
    let chunk: string[] = [];
    for (let orderId = 1; orderId <= c.orders; orderId++) {
      const id = orderDocumentId(c.request_id, orderId);
      chunk.push(`${first ? '' : ','}{"_id":"${id}"}`);
      first = false;
      if (chunk.length >= IDS_PER_CHUNK) {
        if (!(await write(res, chunk.join('')))) return;
        chunk = [];
      }
    }
    if (chunk.length > 0 && !(await write(res, chunk.join('')))) return;
  }
  res.end(']}');
}

/** Writes, waiting for `drain` when the socket buffer is full; false when the client went away. */
async function write(res: Response, text: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(text)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Some orders of a command were not stored (the store failed mid-way): PARTIAL_WRITE, naming each such
 * command and its request id, so the caller can read the request record (it lists what failed) or cancel.
 * Orders that were stored stay and will be dispatched; the answer says so instead of claiming success.
 */
function throwUnlessComplete(result: SubmitResult): void {
  const incomplete = result.commands
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.write_state !== 'complete');
  if (incomplete.length === 0) return;
  // Orders refused because their ids belong to another request: the request id was handed out twice.
  const taken = incomplete.some(({ c }) => c.write_errors?.some((e) => e.code === ErrorCodes.ORDER_ID_TAKEN));
  throw new CommandManagerError(
    taken ? ErrorCodes.ORDER_ID_TAKEN : ErrorCodes.PARTIAL_WRITE,
    `some orders could not be written (requests ${incomplete.map(({ c }) => c.request_id).join(', ')}); the request records list them`,
    {
      details: incomplete.map(({ c, i }) => ({
        pointer: `/commands/${i}`,
        message: `request ${c.request_id}: ${c.write_state}, ${c.orders} orders written${
          c.write_errors?.[0] ? `; first error: ${c.write_errors[0].reason}` : ''
        }`,
      })),
    },
  );
}
