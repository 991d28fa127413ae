/**
 * The audit trail: who called what, from where, with what outcome. Each sidecar chains its own records:
 * record `seq` carries the hash of record `seq - 1` of the same sidecar (`prev_hash`) and its own `hash`
 * (SHA-256 of its canonical JSON without `hash`), so an edited record no longer matches its hash and a
 * deleted one leaves a gap in the sequence (`verifyAuditChain`). Retention removes the oldest records, so a
 * chain may start after 1: only its first surviving record's `prev_hash` is then unchecked.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** What happened to a call. */
export const AUDIT_OUTCOMES = ['ok', 'refused', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One call, as the HTTP adapter sees it. */
export interface AuditEntry {
  /** When the answer was sent (ISO 8601). */
  '@timestamp': string;
  /** The authenticated principal; absent when authentication failed. */
  principal?: string;
  /** How it authenticated (`basic`, `token`, `certificate`). */
  auth_method?: string;
  /** The client address (after trusted proxies). */
  client_ip: string;
  /** The role operation of the route (`submit`, `cancel` …), or `none`. */
  operation: string;
  /** HTTP method and route pattern, e.g. `POST /_plugins/_command_manager/commands`. */
  route: string;
  status: number;
  outcome: AuditOutcome;
  /** The error code of a refused or failed call. */
  code?: string;
  /** Request ids the call concerned (submitted, cancelled, read), at most `MAX_AUDIT_REQUEST_IDS`. */
  request_ids?: number[];
  /** Records of refused calls dropped by a full queue since the previous record (a flood, summarised). */
  dropped?: number;
}

/** An entry as stored: with its place in its sidecar's chain. */
export interface AuditRecord extends AuditEntry {
  sidecar: string;
  seq: number;
  /** `hash` of the record `seq - 1` of the same sidecar (`''` for seq 1). */
  prev_hash: string;
  hash: string;
}

export const MAX_AUDIT_REQUEST_IDS = 20;

/** SHA-256 (hex) of a record's canonical JSON without its `hash`. */
export function auditHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = record;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Chains an entry after `previous` (the sidecar's last record, if any). */
export function chainAuditEntry(
  entry: AuditEntry,
  sidecar: string,
  previous: { seq: number; hash: string } | undefined,
): AuditRecord {
  const unhashed = { ...entry, sidecar, seq: (previous?.seq ?? 0) + 1, prev_hash: previous?.hash ?? '' };
  return { ...unhashed, hash: auditHash(unhashed) };
}

export interface AuditChainProblem {
  sidecar: string;
  seq: number;
  problem: 'edited' | 'missing' | 'broken-link' | 'duplicate';
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Per sidecar: the first and last sequence numbers seen and how many records. */
  chains: Record<string, { first: number; last: number; records: number }>;
  problems: AuditChainProblem[];
}

/** Largest number of problems listed (a wholesale rewrite is reported, not enumerated). */
const MAX_PROBLEMS = 1000;

/** Checks every sidecar's chain in `records` (any order). */
export function verifyAuditChain(records: Iterable<AuditRecord>): AuditVerification {
  const bySidecar = new Map<string, AuditRecord[]>();
  for (const r of records) {
    const list = bySidecar.get(r.sidecar) ?? [];
    list.push(r);
    bySidecar.set(r.sidecar, list);
  }
  const problems: AuditChainProblem[] = [];
  const add = (p: AuditChainProblem): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const chains: AuditVerification['chains'] = {};
  for (const [sidecar, list] of [...bySidecar].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    list.sort((a, b) => a.seq - b.seq);
    chains[sidecar] = {
      first: list[0]?.seq ?? 0,
      last: list[list.length - 1]?.seq ?? 0,
      records: list.length,
    };
    let previous: AuditRecord | undefined;
    for (const r of list) {
      if (auditHash(r) !== r.hash) {
        add({ sidecar, seq: r.seq, problem: 'edited', message: `record ${r.seq} does not match its hash` });
      }
      if (previous) {
        if (r.seq === previous.seq) {
          add({
            sidecar,
            seq: r.seq,
            problem: 'duplicate',
            message: `sequence number ${r.seq} appears twice`,
          });
        } else if (r.seq !== previous.seq + 1) {
          const from = previous.seq + 1;
          const to = r.seq - 1;
          add({
            sidecar,
            seq: from,
            problem: 'missing',
            message: from === to ? `record ${from} is missing` : `records ${from} to ${to} are missing`,
          });
        } else if (r.prev_hash !== previous.hash) {
          add({
            sidecar,
            seq: r.seq,
            problem: 'broken-link',
            message: `record ${r.seq} does not carry the hash of record ${previous.seq}`,
          });
        }
      } else if (r.seq === 1 && r.prev_hash !== '') {
        add({ sidecar, seq: 1, problem: 'broken-link', message: 'record 1 names a predecessor' });
      }
      previous = r;
    }
  }
  return { ok: problems.length === 0, chains, problems };
}

/** A page of `GET /audit`: oldest first (time, then sidecar and sequence), filters combined. */
export interface AuditQuery {
  /** Inclusive lower bound on `@timestamp`. */
  from?: string;
  /** Exclusive upper bound on `@timestamp`. */
  to?: string;
  principal?: string;
  outcome?: AuditOutcome;
  sidecar?: string;
  size: number;
  /** Opaque, from the previous page. */
  cursor?: string;
}

export interface AuditPage {
  records: AuditRecord[];
  /** Present while more records may follow. */
  cursor?: string;
}

/** Where the HTTP adapter records calls and reads them back. */
export interface AuditLog {
  /** Queues an entry (never throws, never waits for the store). */
  record(entry: AuditEntry): void;
  page(query: AuditQuery): Promise<AuditPage>;
}
