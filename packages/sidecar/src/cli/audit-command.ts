/**
 * `command-manager audit`: a page of the audit trail, oldest first (GET /audit), one line per record; the
 * cursor of the next page last. `--json` prints the API's answer as it is.
 *
 * `command-manager audit verify`: reads the whole trail (or the part the filters select) page by page and
 * checks each sidecar's chain with core's `verifyAuditChain`: an edited record (its hash no longer matches,
 * or the next record no longer links to it) or a deleted one (a gap in the sequence numbers) is printed and
 * the command exits AUDIT_FAILED. Retention removes the oldest records: a chain may start after 1.
 */
import { verifyAuditChain, type AuditPage } from '@command-manager/core';
import type { ApiClient } from './api-client';
import { parseListOptions } from './client-options';
import { ExitCodes } from './exit-codes';

const FILTERS = ['from', 'to', 'principal', 'outcome', 'sidecar', 'size', 'cursor'] as const;
const VERIFY_FILTERS = ['from', 'to', 'sidecar', 'max-records'] as const;
const PAGE_SIZE = 1000;
const DEFAULT_MAX_RECORDS = 1_000_000;

export const AUDIT_USAGE = `  audit                         the audit trail, oldest first: [--from ISO] [--to ISO] [--principal P]
                                  [--outcome ok|refused|error] [--sidecar S] [--size N] [--cursor C]
  audit verify                  check every sidecar's hash chain: [--from ISO] [--to ISO] [--sidecar S]
                                  [--max-records N]; exits 6 on an edited or deleted record`;

type MakeClient = (values: { url?: string; token?: string; basic?: string }) => ApiClient;

export async function auditCommand(args: string[], makeClient: MakeClient): Promise<number> {
  if (args[0] === 'verify') return verify(args.slice(1), makeClient);
  const { values, query } = parseListOptions(args, FILTERS);
  const answer = await makeClient(values).request<AuditPage>(
    'GET',
    `/_plugins/_command_manager/audit?${query}`,
  );
  if (values.json) {
    console.log(JSON.stringify(answer));
    return ExitCodes.OK;
  }
  for (const r of answer.records) {
    console.log(
      [
        r['@timestamp'],
        `${r.sidecar}#${r.seq}`,
        r.principal ?? '-',
        r.client_ip,
        r.operation,
        r.route,
        r.status,
        r.outcome + (r.code ? ` ${r.code}` : ''),
        r.request_ids?.join(',') ?? '-',
        ...(r.dropped !== undefined ? [`dropped ${r.dropped}`] : []),
      ].join('\t'),
    );
  }
  if (answer.cursor) console.log(`(more: --cursor ${answer.cursor})`);
  return ExitCodes.OK;
}

async function verify(args: string[], makeClient: MakeClient): Promise<number> {
  const { values, query } = parseListOptions(args, VERIFY_FILTERS);
  const maxText = query.get('max_records');
  query.delete('max_records');
  const maxRecords = maxText === null ? DEFAULT_MAX_RECORDS : Number(maxText);
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    console.error('--max-records must be a positive integer');
    return ExitCodes.USAGE;
  }
  query.set('size', String(PAGE_SIZE));
  const api = makeClient(values);
  const records: AuditPage['records'] = [];
  for (;;) {
    const page = await api.request<AuditPage>('GET', `/_plugins/_command_manager/audit?${query}`);
    records.push(...page.records);
    if (records.length > maxRecords) {
      console.error(
        `more than ${maxRecords} records: narrow with --from/--to/--sidecar or raise --max-records`,
      );
      return ExitCodes.USAGE;
    }
    if (!page.cursor) break;
    query.set('cursor', page.cursor);
  }
  const result = verifyAuditChain(records);
  if (values.json) console.log(JSON.stringify(result));
  else {
    for (const [sidecar, c] of Object.entries(result.chains)) {
      console.log(`${sidecar}: records ${c.first} to ${c.last} (${c.records})`);
    }
    for (const p of result.problems) console.log(`${p.sidecar}: ${p.problem}: ${p.message}`);
    console.log(
      result.ok ? 'audit trail intact' : `audit trail NOT intact: ${result.problems.length} problem(s)`,
    );
  }
  return result.ok ? ExitCodes.OK : ExitCodes.AUDIT_FAILED;
}
