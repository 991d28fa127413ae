import { auditHash, chainAuditEntry, verifyAuditChain, type AuditEntry, type AuditRecord } from '../src';

function entry(n: number): AuditEntry {
  return {
    '@timestamp': new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    principal: 'ops',
    client_ip: '10.0.0.1',
    operation: 'submit',
    route: 'POST /_plugins/_command_manager/commands',
    status: 201,
    outcome: 'ok',
    request_ids: [n],
  };
}

function chain(sidecar: string, n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) records.push(chainAuditEntry(entry(i), sidecar, records[i - 2]));
  return records;
}

describe('audit chain', () => {
  it('links each record to the previous one of its sidecar and verifies interleaved chains', () => {
    const a = chain('a', 4);
    const b = chain('b', 3);
    expect(a[0]).toMatchObject({ seq: 1, prev_hash: '' });
    expect(a[2]?.prev_hash).toBe(a[1]?.hash);
    expect(a[1]?.hash).toBe(auditHash(a[1] as AuditRecord));
    const result = verifyAuditChain([...b, ...a].reverse());
    expect(result).toEqual({
      ok: true,
      chains: { a: { first: 1, last: 4, records: 4 }, b: { first: 1, last: 3, records: 3 } },
      problems: [],
    });
  });

  it('finds an edited record', () => {
    const a = chain('a', 3);
    const edited = a.map((r) => (r.seq === 2 ? { ...r, principal: 'someone-else' } : r));
    expect(verifyAuditChain(edited).problems).toEqual([
      { sidecar: 'a', seq: 2, problem: 'edited', message: 'record 2 does not match its hash' },
    ]);
  });

  it('finds a record edited with its hash recomputed: the next one no longer links to it', () => {
    const a = chain('a', 3);
    const forged = { ...(a[1] as AuditRecord), status: 200 };
    forged.hash = auditHash(forged);
    expect(verifyAuditChain([a[0] as AuditRecord, forged, a[2] as AuditRecord]).problems).toEqual([
      {
        sidecar: 'a',
        seq: 3,
        problem: 'broken-link',
        message: 'record 3 does not carry the hash of record 2',
      },
    ]);
  });

  it('finds deleted records in the middle, and accepts a chain whose oldest records retention removed', () => {
    const a = chain('a', 6);
    const gaps = verifyAuditChain(a.filter((r) => r.seq !== 2 && r.seq !== 4 && r.seq !== 5));
    expect(gaps.ok).toBe(false);
    expect(gaps.problems.map((p) => p.message)).toEqual([
      'record 2 is missing',
      'records 4 to 5 are missing',
    ]);
    expect(verifyAuditChain(a.slice(3))).toMatchObject({ ok: true, chains: { a: { first: 4, last: 6 } } });
  });
});
