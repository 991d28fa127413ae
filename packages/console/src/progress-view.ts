import { STATUSES, type Counts } from './api.js';
import { h, svg } from './dom.js';

/** A stacked bar: success, failure, sent, pending, as shares of the request's orders. */
export function progressBar(counts: Counts, total: number): HTMLElement {
  const whole = Math.max(total, counts.pending + counts.sent + counts.success + counts.failure, 1);
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': 'progress' });
  for (const status of ['success', 'failure', 'sent', 'pending'] as const) {
    const part = h('span', { class: status, title: `${status}: ${counts[status]}` });
    // CSSOM, not a style attribute: allowed by the Content-Security-Policy (style-src 'self').
    part.style.width = `${(100 * counts[status]) / whole}%`;
    bar.appendChild(part);
  }
  return bar;
}

export function countsLine(counts: Counts): HTMLElement {
  return h(
    'div',
    { class: 'counts' },
    ...STATUSES.map((s) => h('span', { class: s, 'data-status': s }, `${s} ${counts[s]}`)),
  );
}

export interface Sample {
  at: number;
  counts: Counts;
}

const COLOURS: Record<keyof Counts, string> = {
  pending: '#9aa5b1',
  sent: '#3b82f6',
  success: '#16a34a',
  failure: '#dc2626',
};

/** A line per status over the time the page has watched the request (one point per progress reading). */
export function timeline(samples: readonly Sample[], total: number): SVGElement {
  const width = 600;
  const height = 180;
  const pad = 28;
  const chart = svg('svg', {
    class: 'timeline',
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': 'counts over time',
  });
  chart.appendChild(
    svg('line', { class: 'axis', x1: pad, y1: height - pad, x2: width - 4, y2: height - pad }),
  );
  chart.appendChild(svg('line', { class: 'axis', x1: pad, y1: 4, x2: pad, y2: height - pad }));
  // One reading (a request already done when opened) is drawn as a flat line.
  const points =
    samples.length === 1 && samples[0] ? [samples[0], { ...samples[0], at: samples[0].at + 1 }] : samples;
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return chart;
  const span = Math.max(last.at - first.at, 1);
  const top = Math.max(total, 1);
  const x = (at: number): number => pad + ((width - pad - 4) * (at - first.at)) / span;
  const y = (n: number): number => height - pad - ((height - pad - 4) * n) / top;
  for (const status of STATUSES) {
    const line = points.map((s) => `${x(s.at).toFixed(1)},${y(s.counts[status]).toFixed(1)}`).join(' ');
    chart.appendChild(
      svg('polyline', {
        points: line,
        fill: 'none',
        stroke: COLOURS[status],
        'stroke-width': 2,
        'data-status': status,
      }),
    );
  }
  chart.appendChild(svg('text', { x: 2, y: 12 }, String(top)));
  chart.appendChild(svg('text', { x: 2, y: height - pad }, '0'));
  chart.appendChild(
    svg(
      'text',
      { x: width - 60, y: height - 8 },
      `${(((samples[samples.length - 1]?.at ?? first.at) - first.at) / 1000).toFixed(1)} s`,
    ),
  );
  return chart;
}
