/**
 * Pure parts of the adapter: error mapping, revisions, cursors, index names, bulk chunking.
 * (Everything that talks to OpenSearch is tested against a real node in *.int.test.ts.)
 */
import { CommandManagerError, encodePageCursor } from '@command-manager/core';
import { errors } from '@opensearch-project/opensearch';
import { indexLayout } from '@command-manager/opensearch';
import { bulkBody, bulkOp, chunkOps, EncodedLines, opBytes } from '../src/internal/bulk';
import { checkPageSize, decodeCursor, decodeRevision, encodeRevision } from '../src/internal/paging';
import { toStoreError } from '../src/internal/store-errors';

function responseError(
  statusCode: number,
  error: unknown,
  headers: Record<string, string> = {},
): errors.ResponseError {
  return new errors.ResponseError({
    body: { error, status: statusCode },
    statusCode,
    headers,
    meta: {} as never,
    warnings: null,
  });
}

describe('toStoreError', () => {
  it.each([
    ['connection refused', new errors.ConnectionError('connect ECONNREFUSED')],
    ['timeout', new errors.TimeoutError('Request timed out', {} as never)],
    ['no living connections', new errors.NoLivingConnectionsError('none', {} as never)],
    ['503', responseError(503, { type: 'unavailable_shards_exception', reason: 'primary not active' })],
    ['429', responseError(429, { type: 'es_rejected_execution_exception', reason: 'queue full' })],
    [
      'cluster block (403)',
      responseError(403, { type: 'cluster_block_exception', reason: 'index read-only' }),
    ],
  ])('maps %s to STORE_UNAVAILABLE with a retry delay and no cause', (_label, e) => {
    const mapped = toStoreError(e, 'bulk create orders');
    expect(mapped).toBeInstanceOf(CommandManagerError);
    expect(mapped.code).toBe('STORE_UNAVAILABLE');
    expect(mapped.retryAfterSec).toBeGreaterThan(0);
    expect(mapped.cause).toBeUndefined();
    expect(mapped.message).toContain('bulk create orders');
  });

  it('maps a search that failed for want of shards to STORE_UNAVAILABLE, and one that failed otherwise to INTERNAL', () => {
    const shardLoss = responseError(500, {
      type: 'search_phase_execution_exception',
      reason: 'Partial shards failure',
      root_cause: [{ type: 'node_disconnected_exception', reason: '[node-2] disconnected' }],
      failed_shards: [
        { shard: 1, reason: { type: 'node_disconnected_exception' } },
        { shard: 2, reason: { type: 'no_shard_available_action_exception' } },
      ],
    });
    expect(toStoreError(shardLoss, 'page group members').code).toBe('STORE_UNAVAILABLE');
    const pitGone = responseError(404, {
      type: 'search_phase_execution_exception',
      reason: 'all shards failed',
      root_cause: [
        { type: 'search_context_missing_exception', reason: 'No search context found for id [1]' },
      ],
    });
    expect(toStoreError(pitGone, 'page group members').code).toBe('STORE_UNAVAILABLE');
    const badQuery = responseError(400, {
      type: 'search_phase_execution_exception',
      reason: 'all shards failed',
      root_cause: [{ type: 'query_shard_exception', reason: 'failed to create query' }],
      failed_shards: [{ shard: 0, reason: { type: 'node_disconnected_exception' } }],
    });
    expect(toStoreError(badQuery, 'search orders').code).toBe('INTERNAL');
    const noCause = responseError(500, { type: 'search_phase_execution_exception', reason: 'x' });
    expect(toStoreError(noCause, 'search orders').code).toBe('INTERNAL');
  });

  it('takes the delay from Retry-After when OpenSearch sends one', () => {
    expect(toStoreError(responseError(429, { type: 'x' }, { 'retry-after': '17' }), 'op').retryAfterSec).toBe(
      17,
    );
  });

  it('maps other refusals to INTERNAL, naming status, type and reason', () => {
    const mapped = toStoreError(
      responseError(400, { type: 'mapper_parsing_exception', reason: 'bad field' }),
      'index',
    );
    expect(mapped.code).toBe('INTERNAL');
    expect(mapped.message).toContain('400 mapper_parsing_exception: bad field');
  });

  it('passes product errors through and hides anything else behind INTERNAL', () => {
    const own = new CommandManagerError('NOT_FOUND', 'x');
    expect(toStoreError(own, 'op')).toBe(own);
    const mapped = toStoreError(new TypeError('secret detail'), 'op');
    expect(mapped.code).toBe('INTERNAL');
    expect(mapped.message).not.toContain('secret detail');
  });
});

describe('revisions and cursors', () => {
  it('round-trips a revision and rejects anything else', () => {
    expect(decodeRevision(encodeRevision(42, 3))).toEqual({ ifSeqNo: 42, ifPrimaryTerm: 3 });
    for (const bad of ['', '1', 'a:b', '1:2:3', '-1:2', ' 1:2']) expect(decodeRevision(bad)).toBeUndefined();
  });

  it('round-trips a cursor of the expected length; anything else is VALIDATION_FAILED on /cursor', () => {
    expect(decodeCursor(encodePageCursor([1_717_243_200_000, 7, 3]), 3)).toEqual([1_717_243_200_000, 7, 3]);
    for (const bad of [
      '%%%',
      encodePageCursor([1]),
      Buffer.from('[1,null]').toString('base64url'),
      encodePageCursor([1, 2.5]),
      Buffer.from('{}').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad, 2)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });

  it('checks and clamps page sizes', () => {
    expect(checkPageSize(50)).toBe(50);
    expect(checkPageSize(1_000_000)).toBe(9_999);
    for (const bad of [0, -1, 1.5, NaN])
      expect(() => checkPageSize(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});

describe('indexLayout', () => {
  it('derives every name from the orders index', () => {
    const layout = indexLayout('wazuh-commands');
    expect(layout.requests).toBe('wazuh-commands-requests');
    expect(layout.archivePattern).toBe('wazuh-commands-archive-*');
    expect(layout.archiveIndexFor('2025-01-31T23:59:59.999Z')).toBe('wazuh-commands-archive-2025.01');
    expect(layout.archiveIndexFor('2025-12-01T00:00:00.000+01:00')).toBe('wazuh-commands-archive-2025.11');
    expect(indexLayout().orders).toBe('wazuh-commands');
  });

  it('refuses names OpenSearch would refuse', () => {
    for (const bad of ['Upper', '_x', 'a b', 'a,b', 'a*', ''])
      expect(() => indexLayout(bad)).toThrow(TypeError);
  });
});

describe('bulkOp and bulkBody', () => {
  it('are NDJSON lines whose UTF-8 bytes are counted, multi-byte characters included', () => {
    const withSource = bulkOp({ index: { _id: 'é-1' } }, { s: 'ü€😀', n: 1 });
    const withText = '{"index":{"_id":"é-1"}}\n{"s":"ü€😀","n":1}\n';
    expect(bulkBody([withSource]).toString('utf8')).toBe(withText);
    expect(withSource.bytes).toBe(Buffer.byteLength(withText));
    const alone = bulkOp({ delete: { _id: 'ß' } });
    expect(bulkBody([alone]).toString('utf8')).toBe('{"delete":{"_id":"ß"}}\n');
    expect(alone.bytes).toBe(Buffer.byteLength('{"delete":{"_id":"ß"}}\n'));
  });

  it('joins operations in order into a body of exactly their measured bytes', () => {
    const ops = [
      bulkOp({ index: { _id: 'a' } }, { v: 'x'.repeat(5000) }),
      bulkOp({ delete: { _id: 'b' } }),
      bulkOp({ create: { _id: 'c' } }, { v: '\u2028 \ud83d lone surrogate', q: '"\\' }),
    ];
    const body = bulkBody(ops);
    expect(body.length).toBe(ops.reduce((sum, op) => sum + op.bytes, 0));
    const lines = body.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { index: { _id: 'a' } },
      { v: 'x'.repeat(5000) },
      { delete: { _id: 'b' } },
      { create: { _id: 'c' } },
      { v: '\u2028 \ud83d lone surrogate', q: '"\\' },
    ]);
    expect(bulkBody([]).length).toBe(0);
  });
});

describe('EncodedLines', () => {
  const encode = (lines: EncodedLines, id: string, source: unknown) => {
    const head = JSON.stringify({ create: { _id: id } });
    const text = JSON.stringify(source);
    return lines.append(head, text, opBytes(head, text));
  };

  it('keeps every operation readable as its buffer grows, multi-byte characters included', () => {
    const lines = new EncodedLines(0);
    const sources = Array.from({ length: 300 }, (_, i) => ({
      i,
      s: `ü€😀 ${'x'.repeat(i * 7)}`,
      q: '"\\\u2028',
    }));
    const ops = sources.map((s, i) => encode(lines, `é-${i}`, s));
    // 300 operations of up to ~2 KB: past the first buffer of 64 KiB, so it was copied into larger ones.
    expect(lines.buffer.length).toBeGreaterThan(64 * 1024);
    ops.forEach((op, i) => expect(JSON.parse(lines.sourceOf(op))).toEqual(sources[i]));
    const body = bulkBody(ops).toString('utf8').split('\n');
    expect(body.pop()).toBe('');
    expect(body).toHaveLength(600);
    expect(JSON.parse(body[2 * 299] as string)).toEqual({ create: { _id: 'é-299' } });
    expect(JSON.parse(body[2 * 299 + 1] as string)).toEqual(sources[299]);
  });

  it('sends a whole batch as its own bytes, and any other selection of operations copied in order', () => {
    const lines = new EncodedLines(0);
    const ops = ['a', 'b', 'c', 'd'].map((id) => encode(lines, id, { id, n: 'ñ' }));
    const whole = bulkBody(ops);
    expect(whole.buffer).toBe(lines.buffer.buffer);
    expect(whole.length).toBe(ops.reduce((sum, op) => sum + op.bytes, 0));
    // A resend of some items (those refused as unavailable): only theirs, in the order given.
    const some = bulkBody([ops[3], ops[1]] as typeof ops).toString('utf8');
    expect(some).toBe(
      '{"create":{"_id":"d"}}\n{"id":"d","n":"ñ"}\n{"create":{"_id":"b"}}\n{"id":"b","n":"ñ"}\n',
    );
    // Encoded and text operations together.
    const mixed = bulkBody([ops[0] as (typeof ops)[number], bulkOp({ delete: { _id: 'z' } })]).toString(
      'utf8',
    );
    expect(mixed).toBe('{"create":{"_id":"a"}}\n{"id":"a","n":"ñ"}\n{"delete":{"_id":"z"}}\n');
  });

  it('refuses an operation whose measured size is wrong, rather than send unwritten bytes', () => {
    const lines = new EncodedLines(0);
    expect(() => lines.append('{"create":{}}', '{"s":"ü"}', 10)).toThrow(/wrote \d+ of 10 bytes/);
  });
});

describe('chunkOps', () => {
  it('bounds chunks by count and by bytes, sending an oversized op alone, losing nothing', () => {
    const ops = [10, 10, 10, 50, 10, 200, 10].map((n) => bulkOp({ index: {} }, { s: 'x'.repeat(n) }));
    const chunks = [...chunkOps(ops, 2, 100)];
    expect(chunks.flat()).toEqual(ops);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(2);
      const bytes = chunk.reduce((sum, op) => sum + op.bytes, 0);
      if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(100);
    }
    expect(chunks.some((c) => c.length === 1 && (c[0]?.bytes ?? 0) > 100)).toBe(true);
  });
});
