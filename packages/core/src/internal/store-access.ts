/** Store reads and writes shared by the command service's modules. */
import type { RequestRecord, StoredOrder } from '../model';
import type { Logger, OrderStore, RequestStore } from '../ports';
import { errorMessage } from './error-text';

/** Orders read per round trip when applying results or reading a submission back. */
const READ_CHUNK = 500;

/** The stored orders among `ids` by id, read without their args in bounded chunks. */
export async function readOrders(
  orders: OrderStore,
  ids: readonly string[],
): Promise<Map<string, StoredOrder>> {
  const found = new Map<string, StoredOrder>();
  for (let i = 0; i < ids.length; i += READ_CHUNK) {
    // Without args: callers only write transitions, which leave the stored args alone.
    const chunk = await orders.getOrders(ids.slice(i, i + READ_CHUNK), { args: false });
    for (const s of chunk) found.set(s.id, s);
  }
  return found;
}

/** Replaces a request record; a failure is logged, never thrown (the record is a report of what happened). */
export async function putRecordQuietly(
  requests: RequestStore,
  logger: Logger,
  record: RequestRecord,
): Promise<void> {
  try {
    await requests.putRequest(record);
  } catch (e) {
    logger.error('could not update a request record', {
      requestId: record.request_id,
      error: errorMessage(e),
    });
  }
}
