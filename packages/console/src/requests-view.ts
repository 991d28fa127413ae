import { API, SOURCES, STATUSES, call, describeTarget, type RequestListItem } from './api.js';
import { h, mount, time } from './dom.js';
import { choice, filterForm, filterQuery } from './filter-form.js';
import { progressBar } from './progress-view.js';

const FILTERS = ['source', 'user', 'action', 'status', 'from', 'to'] as const;
const REFRESH_MS = 3000;

/**
 * The requests list (`GET …/requests`), newest first, with the API's filters; the filters live in the
 * page's hash (`#/requests?status=failure`) so a filtered view can be bookmarked and reloaded. Returns a
 * function that stops its refreshing.
 */
export function renderRequests(root: Element, params: URLSearchParams): () => void {
  const form = filterForm({
    id: 'filters',
    page: 'requests',
    params,
    fields: [
      ['Source', choice('source', SOURCES)],
      ['User', h('input', { name: 'user', size: '12' })],
      ['Action', h('input', { name: 'action', size: '12' })],
      ['Orders in status', choice('status', STATUSES)],
      ['From', h('input', { name: 'from', type: 'datetime-local' })],
      ['To', h('input', { name: 'to', type: 'datetime-local' })],
    ],
  });

  const rows = h('tbody', { id: 'request-rows' });
  const status = h('p', { class: 'muted', id: 'list-status' }, 'Loading…');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const table = h(
    'table',
    { id: 'requests' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Request', 'Created', 'Source', 'User', 'Action', 'Target', 'Orders', 'Progress', 'State'].map(
          (t) => h('th', {}, t),
        ),
      ),
    ),
    rows,
  );
  mount(root, h('section', {}, h('h1', {}, 'Requests'), form), h('section', {}, table, status, more));

  const query = filterQuery(params, FILTERS, '50');
  let shown = 0;
  let pages = 0;
  const load = async (cursor?: string): Promise<void> => {
    if (cursor !== undefined) query.set('cursor', cursor);
    else query.delete('cursor');
    more.hidden = true;
    try {
      const page = await call<{ requests: RequestListItem[]; cursor?: string }>(
        'GET',
        `${API}/requests?${query.toString()}`,
      );
      if (cursor === undefined) {
        rows.replaceChildren();
        shown = 0;
        pages = 0;
      }
      for (const item of page.requests) rows.appendChild(row(item));
      shown += page.requests.length;
      pages += 1;
      status.className = 'muted';
      status.textContent = shown === 0 ? 'No request matches.' : `${shown} request(s)`;
      if (page.cursor !== undefined) {
        more.hidden = false;
        more.onclick = () => void load(page.cursor);
      }
    } catch (e) {
      status.className = 'error';
      status.textContent = e instanceof Error ? e.message : String(e);
    }
  };
  void load();
  // The first page is read again every REFRESH_MS (new requests, moving counts), unless more were loaded.
  const timer = setInterval(() => {
    if (pages <= 1 && document.visibilityState === 'visible') void load();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function row(item: RequestListItem): HTMLTableRowElement {
  const r = item.request;
  const c = r.command;
  const terminal = item.counts.success + item.counts.failure;
  const tr = h(
    'tr',
    { class: 'link', 'data-request-id': String(r.request_id) },
    h(
      'td',
      {},
      h('a', { href: `#/requests/${r.request_id}` }, `#${r.request_id}`),
      c.rerun_of !== undefined ? h('span', { class: 'muted' }, ` ↻ #${c.rerun_of}`) : null,
    ),
    h('td', {}, time(r.created_at)),
    h('td', {}, c.source),
    h('td', {}, c.user),
    h('td', {}, c.action.name),
    h('td', {}, describeTarget(c.target)),
    h('td', {}, String(r.total_orders)),
    h(
      'td',
      {},
      progressBar(item.counts, r.total_orders),
      h('span', { class: 'muted' }, `${terminal}/${r.total_orders}`),
    ),
    h(
      'td',
      {},
      item.done
        ? item.counts.failure > 0
          ? `done, ${item.counts.failure} failed`
          : 'done'
        : r.write_state === 'writing'
          ? 'writing'
          : 'running',
    ),
  );
  tr.addEventListener('click', () => (location.hash = `#/requests/${r.request_id}`));
  return tr;
}
