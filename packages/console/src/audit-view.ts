import { API, AUDIT_OUTCOMES, ApiError, call, type AuditRecord } from './api.js';
import { h, mount, time } from './dom.js';
import { choice, filterForm, filterQuery } from './filter-form.js';

const FILTERS = ['principal', 'outcome', 'sidecar', 'from', 'to'] as const;
/** Records a page asks for unless the address names `size` (the API bounds it: `http.maxPageSize`). */
const PAGE_SIZE = '50';
/** Characters of a record's hash shown (the whole hash is its tooltip). */
const HASH_SHOWN = 12;

/** What the page says when the API refuses to read the audit trail. */
function refusal(e: unknown): string {
  if (e instanceof ApiError && e.status === 403) {
    return 'Reading the audit trail needs a role that grants the "audit" operation (the built-in role auditor, or admin); the account you signed in with has none.';
  }
  if (e instanceof ApiError && e.status === 404) return 'This sidecar keeps no audit trail.';
  return e instanceof Error ? e.message : String(e);
}

/**
 * The audit trail (`GET …/audit`): every mutating call and every refused one, oldest first, with the API's
 * filters (principal, outcome, sidecar, time) kept in the page's address (`#/audit?outcome=refused`), and
 * its cursor behind "More". Read once when the page opens (records are appended, never changed).
 */
export function renderAudit(root: Element, params: URLSearchParams): () => void {
  const form = filterForm({
    id: 'audit-filters',
    page: 'audit',
    params,
    keep: ['size'],
    fields: [
      ['Principal', h('input', { name: 'principal', size: '14' })],
      ['Outcome', choice('outcome', AUDIT_OUTCOMES)],
      ['Sidecar', h('input', { name: 'sidecar', size: '14' })],
      ['From', h('input', { name: 'from', type: 'datetime-local' })],
      ['To', h('input', { name: 'to', type: 'datetime-local' })],
    ],
  });

  const rows = h('tbody', { id: 'audit-rows' });
  const status = h('p', { class: 'muted', id: 'audit-status' }, 'Loading…');
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true }, 'More');
  const headings = ['Time', 'Principal', 'Client', 'Operation', 'Call', 'Status', 'Requests', 'Chain'];
  const table = h(
    'table',
    { id: 'audit' },
    h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', {}, t)))),
    rows,
  );
  mount(
    root,
    h(
      'section',
      {},
      h('h1', {}, 'Audit trail'),
      h(
        'p',
        { class: 'muted' },
        'Every mutating call and every refused call, oldest first. Each record carries the hash of the previous record of the same sidecar; “command-manager audit verify” checks the chains.',
      ),
      form,
    ),
    h('section', {}, table, status, more),
  );

  const query = filterQuery(params, FILTERS, params.get('size') ?? PAGE_SIZE);
  let shown = 0;
  const load = async (cursor?: string): Promise<void> => {
    if (cursor !== undefined) query.set('cursor', cursor);
    more.hidden = true;
    try {
      const page = await call<{ records: AuditRecord[]; cursor?: string }>(
        'GET',
        `${API}/audit?${query.toString()}`,
      );
      for (const record of page.records) rows.appendChild(row(record));
      shown += page.records.length;
      status.className = 'muted';
      status.textContent = shown === 0 ? 'No record matches.' : `${shown} record(s)`;
      if (page.cursor !== undefined) {
        more.hidden = false;
        more.onclick = () => void load(page.cursor);
      }
    } catch (e) {
      status.className = 'error';
      status.dataset.status = e instanceof ApiError ? String(e.status) : '';
      status.textContent = refusal(e);
    }
  };
  void load();
  return () => undefined;
}

function row(r: AuditRecord): HTMLTableRowElement {
  const [method = '', path = ''] = r.route.split(' ');
  return h(
    'tr',
    { 'data-outcome': r.outcome, 'data-seq': String(r.seq) },
    h('td', {}, time(r['@timestamp'])),
    h(
      'td',
      {},
      r.principal ?? h('span', { class: 'muted' }, 'not authenticated'),
      r.auth_method !== undefined ? h('span', { class: 'muted' }, ` (${r.auth_method})`) : null,
    ),
    h('td', {}, r.client_ip),
    h('td', {}, r.operation),
    h(
      'td',
      { title: r.route },
      h('code', {}, method),
      ' ',
      path.startsWith(API) ? `…${path.slice(API.length)}` : path,
    ),
    h(
      'td',
      { class: r.outcome === 'ok' ? 'outcome-ok' : 'error' },
      `${r.status} ${r.outcome}`,
      r.code !== undefined ? h('span', { class: 'muted' }, ` ${r.code}`) : null,
      r.dropped !== undefined ? h('span', { class: 'muted' }, ` (+${r.dropped} dropped)`) : null,
    ),
    h(
      'td',
      {},
      ...(r.request_ids ?? []).flatMap((id, i) => [
        i > 0 ? ', ' : null,
        h('a', { href: `#/requests/${id}` }, `#${id}`),
      ]),
    ),
    h(
      'td',
      { class: 'muted' },
      `${r.sidecar} #${r.seq} `,
      h('code', { title: r.hash }, r.hash.slice(0, HASH_SHOWN)),
    ),
  );
}
