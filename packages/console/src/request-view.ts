import {
  API,
  authHeaders,
  call,
  describeTarget,
  isFinished,
  type OrderEnvelope,
  type RequestProgress,
} from './api.js';
import { h, mount, time } from './dom.js';
import { followRequest, type FetchLike } from './event-stream.js';
import { countsLine, progressBar, timeline, type Sample } from './progress-view.js';
import { rerunFailed } from './rerun.js';

/** Most points the timeline keeps (older ones are thinned out by dropping every other one). */
const MAX_SAMPLES = 600;

/**
 * One request: live progress (bar, counts, a timeline of the counts), failures by `result.code` with a
 * sample message each and the failed orders, cancel, and re-run of the failed targets. Returns a function
 * that stops following (called when the page changes).
 */
export function renderRequest(root: Element, requestId: number): () => void {
  const stop = new AbortController();
  const title = h('h1', { id: 'request-title' }, `Request #${requestId}`);
  const meta = h('p', { class: 'muted', id: 'request-meta' });
  const bar = h('div', { id: 'progress-bar' });
  const counts = h('div', { id: 'progress-counts' });
  const percent = h('p', { id: 'progress-percent' }, 'Loading…');
  const mode = h('span', { class: 'muted', id: 'progress-mode' });
  const chart = h('div', { id: 'timeline' });
  const failures = h('div', { id: 'failures' });
  const failedOrders = h('div', { id: 'failed-orders' });
  const notice = h('p', { id: 'action-result' });
  const cancel = h('button', { type: 'button', class: 'danger', id: 'cancel' }, 'Cancel pending orders');
  const rerun = h('button', { type: 'button', id: 'rerun', hidden: true }, 'Re-run failed targets');
  mount(
    root,
    h(
      'section',
      {},
      title,
      meta,
      bar,
      counts,
      h('p', {}, percent, ' ', mode),
      h('div', { class: 'actions' }, cancel, rerun),
      notice,
    ),
    h('section', {}, h('h2', {}, 'Counts over time'), chart),
    h('section', {}, h('h2', {}, 'Failures by result code'), failures, failedOrders),
  );

  const samples: Sample[] = [];
  let latest: RequestProgress | undefined;
  let failuresShown = -1;

  const show = (p: RequestProgress): void => {
    latest = p;
    const r = p.request;
    const c = r.command;
    title.textContent = `Request #${r.request_id}: ${c.action.name} → ${describeTarget(c.target)}`;
    meta.replaceChildren(
      `${c.source}, user ${c.user} (as ${r.principal}), created ${time(r.created_at)}, ${r.total_orders} order(s), write ${r.write_state}`,
      ...(c.rerun_of !== undefined
        ? [', re-run of ', h('a', { href: `#/requests/${c.rerun_of}`, id: 'parent-link' }, `#${c.rerun_of}`)]
        : []),
    );
    bar.replaceChildren(progressBar(p.counts, r.total_orders));
    counts.replaceChildren(countsLine(p.counts));
    const finished = isFinished(p);
    percent.textContent = `${Math.floor(p.progress * 100)}%${finished ? ' — done' : ''}${p.rollout.stopped ? ' (rollout stopped: error budget spent)' : ''}`;
    percent.dataset.done = String(finished);
    cancel.hidden = finished;
    rerun.hidden = !(finished && p.counts.failure > 0);
    samples.push({ at: Date.now(), counts: { ...p.counts } });
    if (samples.length > MAX_SAMPLES) for (let i = 1; i < samples.length; i++) samples.splice(i, 1);
    chart.replaceChildren(timeline(samples, r.total_orders));
    showFailures(p);
  };

  const showFailures = (p: RequestProgress): void => {
    if (p.counts.failure === failuresShown) return;
    failuresShown = p.counts.failure;
    if (p.counts.failure === 0) {
      failures.replaceChildren(h('p', { class: 'muted' }, 'No failure.'));
      failedOrders.replaceChildren();
      return;
    }
    failures.replaceChildren(
      h(
        'table',
        { id: 'failure-codes' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Code'), h('th', {}, 'Orders'), h('th', {}, 'Sample message')),
        ),
        h(
          'tbody',
          {},
          ...p.failures.codes.map((f) =>
            h(
              'tr',
              { 'data-code': String(f.code) },
              h('td', {}, String(f.code)),
              h('td', {}, String(f.count)),
              h('td', {}, f.message),
            ),
          ),
          p.failures.other > 0
            ? h('tr', {}, h('td', {}, 'other'), h('td', {}, String(p.failures.other)), h('td', {}, ''))
            : null,
        ),
      ),
    );
    const query = new URLSearchParams({
      request_id: String(p.request.request_id),
      status: 'failure',
      size: '20',
    });
    call<{ orders: OrderEnvelope[]; cursor?: string }>('GET', `${API}/orders?${query.toString()}`).then(
      (page) =>
        failedOrders.replaceChildren(
          h('h2', {}, 'Failed orders (first 20)'),
          h(
            'table',
            { id: 'failed-order-rows' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'Order'),
                h('th', {}, 'Target'),
                h('th', {}, 'Code'),
                h('th', {}, 'Message'),
              ),
            ),
            h(
              'tbody',
              {},
              ...page.orders.map((o) => {
                const cmd = o.order.command;
                return h(
                  'tr',
                  {},
                  h('td', {}, o.id),
                  h('td', {}, `${cmd.target.type} ${cmd.target.id}`),
                  h('td', {}, String(cmd.result?.code ?? '')),
                  h('td', {}, cmd.result?.message ?? ''),
                );
              }),
            ),
          ),
        ),
      (e: unknown) =>
        failedOrders.replaceChildren(h('p', { class: 'error' }, e instanceof Error ? e.message : String(e))),
    );
  };

  const follow = (): void => {
    void followRequest<RequestProgress>({
      fetch: ((url, init) => fetch(url, { ...init, cache: 'no-store', credentials: 'omit' })) as FetchLike,
      requestUrl: `${API}/requests/${requestId}`,
      headers: authHeaders(),
      onProgress: show,
      isFinal: isFinished,
      onMode: (m) => (mode.textContent = m === 'events' ? '(live)' : '(refreshed every 2 s)'),
      onError: (m) => (mode.textContent = `(${m}; retrying)`),
      signal: stop.signal,
    });
  };
  follow();

  cancel.addEventListener('click', () => {
    cancel.disabled = true;
    call<{ cancelled: number; in_flight: number }>('POST', `${API}/requests/${requestId}/cancel`).then(
      (r) => {
        notice.className = '';
        notice.textContent = `Cancelled ${r.cancelled} pending order(s)${r.in_flight > 0 ? `; ${r.in_flight} in flight left to finish` : ''}.`;
        cancel.disabled = false;
      },
      (e: unknown) => {
        notice.className = 'error';
        notice.textContent = e instanceof Error ? e.message : String(e);
        cancel.disabled = false;
      },
    );
  });

  rerun.addEventListener('click', () => {
    if (!latest) return;
    rerun.disabled = true;
    notice.className = '';
    notice.textContent = 'Submitting…';
    rerunFailed(latest.request).then(
      (r) => {
        notice.replaceChildren(
          `Re-ran ${r.targets} failed target(s)${r.truncated ? ' (the first ones only: click again for the rest once done)' : ''}: `,
          ...r.requestIds
            .slice(0, 20)
            .flatMap((id) => [h('a', { href: `#/requests/${id}`, class: 'rerun-link' }, `#${id}`), ' ']),
          r.requestIds.length > 20 ? `and ${r.requestIds.length - 20} more` : '',
        );
        rerun.disabled = false;
      },
      (e: unknown) => {
        notice.className = 'error';
        notice.textContent = e instanceof Error ? e.message : String(e);
        rerun.disabled = false;
      },
    );
  });

  return () => stop.abort();
}
