/**
 * The chart of (g): time per order (µs, median, with a min–max bar) against the group size, product and raw
 * `_bulk`, as a self-contained SVG string (no library: a few lines and circles). Sizes are placed on a log
 * scale, since they grow tenfold.
 */

const W = 640;
const H = 380;
const M = { left: 70, right: 30, top: 72, bottom: 58 };
const SERIES = [
  { key: 'product_us', label: 'command manager (HTTP submit)', color: '#1f6feb' },
  { key: 'raw_us', label: 'raw _bulk (same documents)', color: '#d9730d' },
];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n) => (n >= 100 || Number.isInteger(n) ? Math.round(n).toString() : n.toFixed(1));
const sizeLabel = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** A "nice" upper bound for the y axis and its step. */
function niceScale(max) {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step || step, step };
}

/**
 * @param {{ sizes: Array<{ size: number, product_us: {median:number,min:number,max:number},
 *           raw_us: {median:number,min:number,max:number} }>, subtitle?: string }} data
 */
export function renderScalingChart(data) {
  const sizes = data.sizes.filter(
    (s) => Number.isFinite(s.product_us?.median) || Number.isFinite(s.raw_us?.median),
  );
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const maxY = Math.max(
    1,
    ...sizes.flatMap((s) => SERIES.map((k) => s[k.key]?.max).filter((v) => Number.isFinite(v))),
  );
  const { top, step } = niceScale(maxY * 1.05);
  const logs = sizes.map((s) => Math.log10(s.size));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const x = (size) =>
    M.left + (hi === lo ? plotW / 2 : ((Math.log10(size) - lo) / (hi - lo)) * (plotW - 110) + 55);
  const y = (v) => M.top + plotH - (v / top) * plotH;

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">Time per order vs group size</text>`,
  );
  if (data.subtitle) out.push(`<text x="${M.left}" y="38" fill="#555">${esc(data.subtitle)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(
      `<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end" fill="#333">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left + plotW}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">µs per order (median; bar: min–max)</text>`,
    `<text x="${M.left + plotW / 2}" y="${H - 14}" text-anchor="middle">agents in the group (log scale)</text>`,
  );
  for (const s of sizes) {
    out.push(
      `<text x="${x(s.size)}" y="${M.top + plotH + 18}" text-anchor="middle" fill="#333">${sizeLabel(s.size)}</text>`,
    );
  }
  SERIES.forEach((series, i) => {
    const pts = sizes.filter((s) => Number.isFinite(s[series.key]?.median));
    if (pts.length > 1) {
      const d = pts.map(
        (s, j) => `${j ? 'L' : 'M'}${x(s.size).toFixed(1)},${y(s[series.key].median).toFixed(1)}`,
      );
      out.push(`<path d="${d.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
    }
    for (const s of pts) {
      const v = s[series.key];
      const cx = x(s.size) + (i === 0 ? -4 : 4);
      if (Number.isFinite(v.min) && Number.isFinite(v.max) && v.max > v.min) {
        out.push(
          `<line x1="${cx}" x2="${cx}" y1="${y(v.min)}" y2="${y(v.max)}" stroke="${series.color}" stroke-width="1.5" opacity="0.6"/>`,
        );
      }
      out.push(
        `<circle cx="${cx}" cy="${y(v.median)}" r="4" fill="${series.color}"/>`,
        `<text x="${cx + (i === 0 ? -8 : 8)}" y="${y(v.median) - 7}" text-anchor="${i === 0 ? 'end' : 'start'}" fill="${series.color}">${fmt(v.median)}</text>`,
      );
    }
    const lx = M.left + i * 260;
    out.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="54" y2="54" stroke="${series.color}" stroke-width="2"/>`,
      `<text x="${lx + 26}" y="58">${esc(series.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
