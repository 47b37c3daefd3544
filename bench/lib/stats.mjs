// Small statistics and formatting helpers.

/** The q-quantile (0..1) of the numbers, by linear interpolation; NaN for none. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}

export const median = (values) => quantile(values, 0.5);

/** A number with `digits` decimals, or an en dash for none. */
export const fixed = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** Renders rows (arrays of cells) as a markdown table under `headers`; `align` has one of 'l'/'r' per column. */
export function markdownTable(headers, rows, align = headers.map((_, i) => (i === 0 ? 'l' : 'r'))) {
  // A pipe inside a cell (`claudeStream | textOnly()`) would end the cell.
  rows = rows.map((row) => row.map((cell) => String(cell).replaceAll('|', '\\|')));
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
  const pad = (cell, i) => (align[i] === 'r' ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'r' ? '-'.repeat(width - 1) + ':' : '-'.repeat(width))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A seeded pseudo-random generator (mulberry32): the same interval for the same samples, run after run. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 90% bootstrap interval for median(a) ÷ median(b): both resampled with replacement, `iterations` times.
 *
 * Pass one value per process (the mean of its runs), not every run: runs in one process share where the JIT and the
 * heap landed, so treating them as independent would make the interval look tighter than it is.
 */
export function ratioInterval(a, b, { iterations = 4000, seed = 1 } = {}) {
  if (a.length === 0 || b.length === 0) return [NaN, NaN];
  const random = seededRandom(seed);
  const resample = (values) => Array.from(values, () => values[Math.floor(random() * values.length)]);
  const ratios = Array.from({ length: iterations }, () => median(resample(a)) / median(resample(b)));
  return [quantile(ratios, 0.05), quantile(ratios, 0.95)];
}
