/**
 * @module charts
 * The dashboard's pictures, drawn as SVG from DOM nodes: the mail activity of the last hour
 * per minute (received, delivered, deferred, bounced, one line each, with the hour's total in
 * the legend) and the queue's recipients by state as bars.
 * Standards: SVG 1.1 (polyline, rect, text); WHATWG DOM (createElementNS).
 * Security: numbers and fixed words only; labels are text nodes.
 * Limitations: no axes beyond the peak value and the hour's ends; no hover details.
 */
import { h } from '../common/dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

export interface ActivityMinute {
  minute: string;
  received: number;
  delivered: number;
  deferred: number;
  bounced: number;
}

const series = [
  ['received', '#2f6fdf'],
  ['delivered', '#2b9348'],
  ['deferred', '#e09f3e'],
  ['bounced', '#c0392b'],
] as const;

const W = 600;
const H = 160;
const PAD = 24;

/** One line per kind over the minutes given (oldest first). */
export function activityChart(minutes: readonly ActivityMinute[]): HTMLElement {
  const peak = Math.max(1, ...minutes.flatMap((m) => series.map(([k]) => m[k])));
  const x = (i: number): number => PAD + (minutes.length < 2 ? 0 : (i * (W - 2 * PAD)) / (minutes.length - 1));
  const y = (v: number): number => H - PAD - (v * (H - 2 * PAD)) / peak;
  const lines = series.map(([kind, colour]) =>
    svg('polyline', { class: `line line-${kind}`, fill: 'none', stroke: colour, 'stroke-width': 2, points: minutes.map((m, i) => `${x(i).toFixed(1)},${y(m[kind]).toFixed(1)}`).join(' ') }));
  const time = (iso: string | undefined): string => (iso ? iso.slice(11, 16) : '');
  const picture = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'mail per minute, last hour', class: 'activity-chart' },
    svg('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: '#99a' }),
    svg('text', { x: 2, y: PAD, 'font-size': 11 }, String(peak)),
    svg('text', { x: PAD, y: H - 6, 'font-size': 11 }, time(minutes[0]?.minute)),
    svg('text', { x: W - PAD, y: H - 6, 'font-size': 11, 'text-anchor': 'end' }, `${time(minutes.at(-1)?.minute)} UTC`),
    ...lines);
  const legend = h('ul', { class: 'legend' }, ...series.map(([kind]) => {
    const total = minutes.reduce((n, m) => n + m[kind], 0);
    const last = minutes.at(-1)?.[kind] ?? 0;
    return h('li', { class: `series-${kind}`, 'data-series': kind, 'data-total': total, 'data-last': last }, `${kind}: ${total} this hour, ${last} this minute`);
  }));
  return h('figure', { class: 'chart', id: 'activity' }, h('figcaption', {}, 'Mail per minute, last hour'), picture, legend);
}

/** Recipients in the queue by state, as horizontal bars. */
export function queueChart(byState: Readonly<Record<string, number>>): HTMLElement {
  const entries = Object.entries(byState);
  const peak = Math.max(1, ...entries.map(([, n]) => n));
  const row = 22;
  const picture = svg('svg', { viewBox: `0 0 ${W} ${Math.max(row, entries.length * row)}`, role: 'img', 'aria-label': 'queue by state', class: 'queue-chart' },
    ...entries.flatMap(([state, n], i) => [
      svg('text', { x: 0, y: i * row + 15, 'font-size': 12 }, state),
      svg('rect', { class: `bar bar-${state}`, 'data-state': state, 'data-count': n, x: 110, y: i * row + 4, height: 14, width: ((W - 170) * n) / peak, fill: '#5b7db1' }),
      svg('text', { x: 116 + ((W - 170) * n) / peak, y: i * row + 15, 'font-size': 12 }, String(n)),
    ]));
  return h('figure', { class: 'chart', id: 'queue-states' }, h('figcaption', {}, 'Queue by state (recipients)'), picture);
}
