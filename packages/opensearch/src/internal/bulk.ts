/**
 * Low-level `_bulk`: each operation is serialised once, its size known for the byte bound, and a request's
 * operations are encoded as UTF-8 straight into one buffer of that size, which the transport sends as is (no
 * joined string to flatten, measure and encode again on the socket). Responses are trimmed with
 * `filter_path` to what is read back (status, seq_no/primary_term, error type and reason), so parsing a
 * 1,000-item answer stays cheap.
 */
import type { API, Client } from '@opensearch-project/opensearch';
import { NO_TRANSPORT_RETRY } from './no-transport-retry';
import { assertBulkPermitted } from './bulk-permissions';
import { guarded } from './store-errors';

export type RefreshPolicy = boolean | 'wait_for';

export interface BulkItemResult {
  status: number;
  seqNo?: number;
  primaryTerm?: number;
  version?: number;
  errorType?: string;
  errorReason?: string;
}

const NEWLINE = 0x0a;

/** One operation of a bulk request: its action line and optional source, already serialised. */
export interface BulkOp {
  /** The action line, without its `\n`. */
  readonly head: string;
  /** The source line, without its `\n` (none for `delete`). */
  readonly source?: string;
  /** UTF-8 length of the operation's NDJSON lines, newlines included. */
  readonly bytes: number;
}

/**
 * An operation whose NDJSON lines are already encoded: `bytes` bytes (newlines included) of `lines.buffer`
 * from `offset`. A long stream of saves encodes each order as it comes and keeps only these few numbers: its
 * text and its object then die young, instead of living in the heap until their batch is answered.
 */
export interface EncodedOp {
  readonly lines: EncodedLines;
  readonly offset: number;
  readonly bytes: number;
  /** Bytes of the action line (its newline included): the source starts there. */
  readonly headBytes: number;
}

/** Smallest buffer `EncodedLines` starts with (it doubles when full). */
const ENCODED_MIN_BYTES = 64 * 1024;

/**
 * The encoded lines of one bulk request's operations, appended one after another into one buffer that
 * doubles when full (so `buffer` is read when the request is sent, never kept by an operation).
 */
export class EncodedLines {
  private bytes: Buffer;
  private used = 0;

  /** `expectedBytes`: what the lines will likely take (e.g. the size of the previous batch of a stream). */
  constructor(expectedBytes: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(ENCODED_MIN_BYTES, Math.ceil(expectedBytes)));
  }

  get buffer(): Buffer {
    return this.bytes;
  }

  /** Appends an action line and its source line; `bytes` is their measured size (`opBytes`). */
  append(head: string, source: string, bytes: number): EncodedOp {
    const offset = this.used;
    if (offset + bytes > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(offset + bytes, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, offset);
      this.bytes = grown;
    }
    let at = offset + this.bytes.write(head, offset);
    this.bytes[at++] = NEWLINE;
    const headBytes = at - offset;
    at += this.bytes.write(source, at);
    this.bytes[at++] = NEWLINE;
    // Every byte was measured beforehand: a shortfall would send uninitialised memory.
    if (at - offset !== bytes) throw new Error(`encoded operation: wrote ${at - offset} of ${bytes} bytes`);
    this.used = at;
    return { lines: this, offset, bytes, headBytes };
  }

  /** The source line of `op`, as text. */
  sourceOf(op: EncodedOp): string {
    return this.bytes.toString('utf8', op.offset + op.headBytes, op.offset + op.bytes - 1);
  }
}

/** UTF-8 size of an action line and a source line, newlines included. */
export function opBytes(head: string, source: string): number {
  return Buffer.byteLength(head) + Buffer.byteLength(source) + 2;
}

function isEncoded(op: BulkOp | EncodedOp): op is EncodedOp {
  return (op as EncodedOp).lines !== undefined;
}

export function bulkOp(action: Record<string, unknown>, source?: unknown): BulkOp {
  const head = JSON.stringify(action);
  if (source === undefined) return { head, bytes: Buffer.byteLength(head) + 1 };
  const body = JSON.stringify(source);
  return { head, source: body, bytes: opBytes(head, body) };
}

/**
 * The NDJSON body of `ops`, in order: each line encoded once into a buffer of the measured size. Encoded
 * operations that follow each other in one `EncodedLines` (a batch sent as it was built) are that part of its
 * buffer, not copied.
 */
export function bulkBody(ops: readonly (BulkOp | EncodedOp)[]): Buffer {
  const first = ops[0];
  if (first !== undefined && isEncoded(first)) {
    let end = first.offset;
    for (const op of ops) {
      if (!isEncoded(op) || op.lines !== first.lines || op.offset !== end) {
        end = -1;
        break;
      }
      end += op.bytes;
    }
    if (end >= 0) return first.lines.buffer.subarray(first.offset, end);
  }
  let total = 0;
  for (const op of ops) total += op.bytes;
  const body = Buffer.allocUnsafe(total);
  let at = 0;
  for (const op of ops) {
    if (isEncoded(op)) {
      at += op.lines.buffer.copy(body, at, op.offset, op.offset + op.bytes);
      continue;
    }
    at += body.write(op.head, at);
    body[at++] = NEWLINE;
    if (op.source !== undefined) {
      at += body.write(op.source, at);
      body[at++] = NEWLINE;
    }
  }
  // Every byte was measured beforehand: a shortfall would send uninitialised memory.
  if (at !== total) throw new Error(`bulk body: wrote ${at} of ${total} bytes`);
  return body;
}

/** What a conditional write or an allocation reads back from each item. */
const FULL_FILTER_PATH = [
  'errors',
  'items.*.status',
  'items.*._seq_no',
  'items.*._primary_term',
  'items.*._version',
  'items.*.error.type',
  'items.*.error.reason',
].join(',');

/** What a save reads back: status and error only (a third of the answer's size). */
const STATUS_FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

interface RawItem {
  status?: number;
  _seq_no?: number;
  _primary_term?: number;
  _version?: number;
  error?: { type?: string; reason?: string };
}

/**
 * Sends one bulk request and returns one result per operation, in order. Throws `CommandManagerError` on
 * a transport error, a refused request, or any item refused for lack of permission (other item errors are
 * the caller's to read).
 */
export async function sendBulk(
  client: Client,
  params: {
    index?: string;
    ops: readonly (BulkOp | EncodedOp)[];
    refresh: RefreshPolicy;
    operation: string;
    /** Only status and error of each item are needed (no seq_no, primary term or version). */
    statusOnly?: boolean;
  },
): Promise<BulkItemResult[]> {
  const request: API.Bulk_Request = {
    // The transport sends a buffer verbatim (Transport.js `bulkBody`); the typings only list arrays.
    body: bulkBody(params.ops) as unknown as API.Bulk_RequestBody,
    refresh: params.refresh,
    filter_path: params.statusOnly ? STATUS_FILTER_PATH : FULL_FILTER_PATH,
  };
  if (params.index !== undefined) request.index = params.index;
  // Every bulk of the adapter is create-only or conditional (or its caller retries): never resent blindly.
  const response = await guarded(params.operation, () => client.bulk(request, NO_TRANSPORT_RETRY));
  const items = (response.body as { items?: Array<Record<string, RawItem>> }).items ?? [];
  const out: BulkItemResult[] = [];
  for (let i = 0; i < params.ops.length; i++) {
    const wrapper = items[i];
    const raw = wrapper ? Object.values(wrapper)[0] : undefined;
    if (!raw || typeof raw.status !== 'number') {
      out.push({
        status: 0,
        errorType: 'missing_item',
        errorReason: 'no result for this operation in the bulk response',
      });
      continue;
    }
    const item: BulkItemResult = { status: raw.status };
    if (raw._seq_no !== undefined) item.seqNo = raw._seq_no;
    if (raw._primary_term !== undefined) item.primaryTerm = raw._primary_term;
    if (raw._version !== undefined) item.version = raw._version;
    if (raw.error?.type !== undefined) item.errorType = raw.error.type;
    if (raw.error?.reason !== undefined) item.errorReason = raw.error.reason;
    out.push(item);
  }
  assertBulkPermitted(out, params.operation);
  return out;
}

/** Splits operations into bulk bodies bounded by count and bytes (an oversized single op goes alone). */
export function* chunkOps<T extends BulkOp>(
  ops: readonly T[],
  maxCount: number,
  maxBytes: number,
): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const op of ops) {
    if (chunk.length > 0 && (chunk.length >= maxCount || bytes + op.bytes > maxBytes)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(op);
    bytes += op.bytes;
  }
  if (chunk.length > 0) yield chunk;
}

export function itemReason(item: BulkItemResult): string {
  const type = item.errorType ?? `status ${item.status}`;
  return item.errorReason ? `${type}: ${item.errorReason}` : type;
}

/**
 * What a caller may read about a refused item (write errors of a request, result outcomes): the status and
 * OpenSearch's stable `error.type`, never its free text (`itemReason`, for logs), which may quote
 * document values and internals.
 */
export function itemRefusal(item: BulkItemResult): string {
  return `${item.errorType ?? 'refused'} (status ${item.status})`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
