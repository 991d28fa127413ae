import type { E2eProgress } from './e2e';

/**
 * One line of progress: a bar split by status (success `#`, failure `x`, sent `>`, pending `.`), the counts
 * and the time since the command was submitted. Widths are integers that add up to `width`, so the bar
 * never jitters.
 */
export function renderProgressLine(p: E2eProgress, width = 40): string {
  const total = Math.max(p.total, 1);
  let used = 0;
  let bar = '';
  for (const [n, ch] of [
    [p.counts.success, '#'],
    [p.counts.failure, 'x'],
    [p.counts.sent, '>'],
  ] as const) {
    const cells = Math.min(width - used, Math.round((n / total) * width));
    bar += ch.repeat(cells);
    used += cells;
  }
  bar += '.'.repeat(width - used);
  const terminal = p.counts.success + p.counts.failure;
  const pct = p.total === 0 ? 100 : Math.floor((terminal / p.total) * 100);
  const c = p.counts;
  return (
    `request ${p.requestId} [${bar}] ${String(pct).padStart(3)}% ` +
    `pending ${c.pending} sent ${c.sent} success ${c.success} failure ${c.failure} ` +
    `${(p.elapsedMs / 1000).toFixed(1)} s${p.done ? ' done' : ''}`
  );
}
