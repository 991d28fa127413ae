/**
 * Reads an OpenSearch answer as a stream and parses it only if it stays within a byte bound: the client
 * otherwise buffers and parses any answer whole, and a page of large orders can exhaust a small heap (one
 * 900 KB order × 1,000 hits is close to a gigabyte of string and objects).
 */
import type { Readable } from 'node:stream';
import { errors } from '@opensearch-project/opensearch';
import { guarded, toStoreError } from './store-errors';

/** Bytes of one answer the adapter parses at most, by default (orders reads, group walk pages). */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** The byte bound a store reads its answers within: the option given, or the default; never under 4 KiB. */
export function maxResponseBytesOption(bytes: number | undefined): number {
  return Math.max(4096, Math.floor(bytes ?? DEFAULT_MAX_RESPONSE_BYTES));
}

/** The answer would be larger than the bound; nothing of it was parsed. */
export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

interface StreamedResponse {
  statusCode?: number | null;
  headers?: Record<string, unknown> | null;
  body: unknown;
}

/**
 * Sends with `asStream`, reads at most `maxBytes` of the answer (destroying the stream beyond), then parses
 * it. 404 is an answer (`status` says so); any other status ≥ 400 becomes the store error it maps to.
 */
export async function boundedJson<T>(
  operation: string,
  maxBytes: number,
  send: (options: { asStream: true }) => Promise<StreamedResponse>,
): Promise<{ status: number; body: T }> {
  const response = await guarded(operation, () => send({ asStream: true }));
  const stream = response.body as Readable;
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      bytes += buf.length;
      if (bytes > maxBytes) throw new ResponseTooLargeError(maxBytes);
      chunks.push(buf);
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof ResponseTooLargeError) throw e;
    throw toStoreError(e, operation);
  }
  const status = response.statusCode ?? 0;
  let body: T;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch (e) {
    throw toStoreError(e, operation);
  }
  if (status >= 400 && status !== 404) {
    throw toStoreError(
      new errors.ResponseError({
        body,
        statusCode: status,
        headers: (response.headers ?? {}) as Record<string, string>,
        warnings: null,
        meta: {} as never,
      }),
      operation,
    );
  }
  return { status, body };
}
