import {
  chainAuditEntry,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  type AuditRecord,
} from '@command-manager/core';

/** An audit log in memory: entries chained at once (sidecar `memory`), pages filtered by principal and outcome. */
export class RecordingAuditLog implements AuditLog {
  readonly records: AuditRecord[] = [];

  record(entry: AuditEntry): void {
    this.records.push(chainAuditEntry(entry, 'memory', this.records[this.records.length - 1]));
  }

  async page(query: AuditQuery): Promise<AuditPage> {
    const start = query.cursor === undefined ? 0 : Number(query.cursor);
    const matching = this.records.filter(
      (r) =>
        (query.principal === undefined || r.principal === query.principal) &&
        (query.outcome === undefined || r.outcome === query.outcome),
    );
    const records = matching.slice(start, start + query.size);
    const next = start + records.length;
    return { records, ...(next < matching.length && { cursor: String(next) }) };
  }
}
