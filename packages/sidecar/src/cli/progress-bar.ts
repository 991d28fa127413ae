import type { StatusCounts } from '@command-manager/core';

export interface ProgressView {
  requestId: number;
  total: number;
  counts: StatusCounts;
  done: boolean;
  rolloutStopped?: boolean;
}

/**
 * One line: a bar split by status (success `#`, failure `x`, sent `>`, pending `.`) and the counts.
 * Widths are integers that always add up to `width`, so the bar never jitters.
 */
export function renderProgress(view: ProgressView, width = 40): string {
  const total = Math.max(view.total, 1);
  const parts: Array<[keyof StatusCounts, string]> = [
    ['success', '#'],
    ['failure', 'x'],
    ['sent', '>'],
  ];
  let used = 0;
  let bar = '';
  for (const [status, ch] of parts) {
    const n = Math.min(width - used, Math.round((view.counts[status] / total) * width));
    bar += ch.repeat(n);
    used += n;
  }
  bar += '.'.repeat(width - used);
  const terminal = view.counts.success + view.counts.failure;
  const pct = view.total === 0 ? 100 : Math.floor((terminal / view.total) * 100);
  const c = view.counts;
  const tail = view.done ? (view.rolloutStopped ? ' rollout stopped' : ' done') : '';
  return (
    `request ${view.requestId} [${bar}] ${String(pct).padStart(3)}% ` +
    `pending ${c.pending} sent ${c.sent} success ${c.success} failure ${c.failure}${tail}`
  );
}
