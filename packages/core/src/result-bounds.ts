/**
 * What the orders index can store of a result report, checked per report before anything is written, so
 * that a report the index would refuse is answered `invalid` with the reason instead of failing its write
 * (and, before, the whole call) for ever.
 *
 * - `result.code` is mapped `integer`: a value outside the signed 32-bit range is refused by OpenSearch.
 * - `result.data` is a `flat_object` (see the OpenSearch adapter's mappings): every leaf is indexed as a
 *   keyword term of its value (`data._value`) and of its dotted path with the value (`data._valueAndPath`).
 *   Lucene refuses a term over 32,766 UTF-8 bytes ("immense term"), which fails the whole document. A leaf
 *   (its path within `data` plus its value) is bounded at half of that, leaving room for the path prefix
 *   and separators. The mapping is kept (rather than `enabled: false`, stored but not indexed) so that
 *   dashboards can still filter on result data, as on `command.action.args`.
 * - `result.data` as a whole is bounded in bytes (`maxDataBytes`), as `command.action.args` is: the body
 *   limit alone would let one report make its order too large to read back.
 */
import type { OrderResult } from './model';

export const RESULT_CODE_MIN = -2_147_483_648;
export const RESULT_CODE_MAX = 2_147_483_647;
/** Largest leaf of `result.data`: UTF-8 bytes of its dotted path plus its value. */
export const RESULT_DATA_LEAF_MAX_BYTES = 16_384;
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
  const dataBytes = utf8Length(JSON.stringify(result.data));
  if (dataBytes > maxDataBytes) {
    return `result.data is ${dataBytes} bytes as JSON; a result may carry at most ${maxDataBytes}`;
  }
  // Iterative walk: the body's nesting is bounded elsewhere, but a stack of our own never overflows.
  const stack: Array<{ path: string; value: unknown }> = [{ path: '', value: result.data }];
  while (stack.length > 0) {
    const { path, value } = stack.pop() as { path: string; value: unknown };
    if (Array.isArray(value)) {
      // flat_object flattens arrays: their items share the array's path.
      for (const item of value) stack.push({ path, value: item });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        stack.push({ path: path === '' ? key : `${path}.${key}`, value: child });
      }
    } else {
      const bytes = utf8Length(path) + utf8Length(String(value));
      if (bytes > RESULT_DATA_LEAF_MAX_BYTES) {
        return `result.data.${truncate(path)} is ${bytes} bytes (path and value); a leaf of result.data may hold at most ${RESULT_DATA_LEAF_MAX_BYTES}`;
      }
    }
  }
  return undefined;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function truncate(path: string): string {
  return path.length <= 100 ? path : `${path.slice(0, 100)}…`;
}
