/**
 * What the orders index can store of a result report, checked per report before anything is written, so
 * that a report the index would refuse is answered `invalid` with the reason instead of failing its write
 * (and, before, the whole call) for ever.
 *
 * - `result.code` is mapped `integer`: a value outside the signed 32-bit range is refused by OpenSearch.
 * - `result.data` is a `flat_object`: each leaf is bounded as every payload's is (flat-object-leaves.ts).
 * - `result.data` as a whole is bounded in bytes (`maxDataBytes`), as `command.action.args` is: the body
 *   limit alone would let one report make its order too large to read back.
 */
import { oversizedLeaf, PAYLOAD_LEAF_MAX_BYTES } from './flat-object-leaves';
import type { OrderResult } from './model';

export const RESULT_CODE_MIN = -2_147_483_648;
export const RESULT_CODE_MAX = 2_147_483_647;
/** Largest leaf of `result.data`: UTF-8 bytes of its dotted path plus its value. */
export const RESULT_DATA_LEAF_MAX_BYTES = PAYLOAD_LEAF_MAX_BYTES;
/**
 * Largest `result.data` as JSON, by default. Every read of the order carries it: an order larger than what a
 * reader parses at once (the OpenSearch adapter's `maxResponseBytes`) could no longer be listed.
 */
export const DEFAULT_MAX_RESULT_DATA_BYTES = 65_536;

/**
 * Why the index cannot store this result, or the product will not (`result.data` over `maxDataBytes` of
 * JSON), with the offending field; undefined when it can.
 */
export function resultStorageProblem(
  result: OrderResult,
  maxDataBytes: number = DEFAULT_MAX_RESULT_DATA_BYTES,
): string | undefined {
  if (!Number.isInteger(result.code) || result.code < RESULT_CODE_MIN || result.code > RESULT_CODE_MAX) {
    return `result.code must be an integer in ${RESULT_CODE_MIN}..${RESULT_CODE_MAX} (the index maps it as a 32-bit integer)`;
  }
  if (result.data === undefined || result.data === null) return undefined;
  const dataBytes = Buffer.byteLength(JSON.stringify(result.data));
  if (dataBytes > maxDataBytes) {
    return `result.data is ${dataBytes} bytes as JSON; a result may carry at most ${maxDataBytes}`;
  }
  const leaf = oversizedLeaf(result.data);
  if (leaf) {
    return `result.data.${truncate(leaf.path)} is ${leaf.bytes} bytes (path and value); a leaf of result.data may hold at most ${RESULT_DATA_LEAF_MAX_BYTES}`;
  }
  return undefined;
}

function truncate(path: string): string {
  return path.length <= 100 ? path : `${path.slice(0, 100)}…`;
}
