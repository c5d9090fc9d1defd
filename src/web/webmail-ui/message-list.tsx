/**
 * @module message-list
 * One page of conversations or messages (newest first): sender (and how many messages the
 * conversation has), subject, preview or search snippet with its
 * matches highlighted, date, flag, attachment and unread marks; older/newer page buttons and
 * "1–12 of N". A virtual list: the scroller is as tall as every row, but only the rows in
 * view (and a few around) are rendered, and only their pages fetched (list-pages.ts), so a
 * folder of 100,000 messages scrolls end to end and lists as fast as one of 50.
 * Standards: RFC 8621 §5.1 (snippets: HTML-escaped text with <mark> around matches).
 * Security: a snippet is parsed into text and <mark> elements only, never set as HTML.
 * Limitations: rows have one height (`rowHeight`); a jump far down fetches the pages there
 *   (the rows appear when they are in).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ListItem } from './mail-api.js';
import type { ListPages } from './list-pages.js';

const entities: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'", '&#x27;': "'" };
const unescape = (s: string): string => s.replace(/&(?:lt|gt|amp|quot|#39|#x27);/g, (m) => entities[m]);

/** A snippet's text with its <mark> parts highlighted (and nothing else taken as markup). */
export function Highlighted({ html }: { html: string }) {
  const parts = html.split(/<mark>([\s\S]*?)<\/mark>/);
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{unescape(p)}</mark> : unescape(p.replace(/<[^>]*>/g, ''))))}</>;
}

function when(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

function Row({ index, e, snippet, selected, outgoing, onSelect }: { index: number; e: ListItem; snippet?: { subject: string | null; preview: string | null }; selected: boolean; outgoing: boolean; onSelect: (id: string) => void }) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (selected) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [selected]);
  // in Sent and Drafts the other party is the recipient
  const who = outgoing ? e.to?.[0] : e.from?.[0];
  const classes = ['message', e.keywords.$seen ? 'seen' : 'unseen', e.keywords.$flagged ? 'flagged' : '', selected ? 'selected' : ''].filter(Boolean).join(' ');
  return (
    <li ref={ref} class={classes} data-id={e.id} aria-selected={selected} aria-rowindex={index + 1} style={{ top: `${index * rowHeight}px`, height: `${rowHeight}px` }} onClick={() => onSelect(e.id)}>
      <span class="from">
        {outgoing && 'To: '}
        {who ? (who.name ?? who.email) : outgoing ? '(no recipient)' : '(no sender)'}
        {e.threadSize !== undefined && e.threadSize > 1 && <span class="count" title={`${e.threadSize} messages in this conversation`}> {e.threadSize}</span>}
      </span>
      <span class="date">{when(e.receivedAt)}</span>
      <span class="subject">
        {e.keywords.$flagged && <span class="flag" title="flagged">★ </span>}
        {e.hasAttachment && <span class="clip" title="has attachments">att</span>}
        {snippet?.subject ? <Highlighted html={snippet.subject} /> : (e.subject ?? '(no subject)')}
      </span>
      <span class="preview">{snippet?.preview ? <Highlighted html={snippet.preview} /> : e.preview}</span>
    </li>
  );
}

/** The height of a row, in CSS pixels (styles.css gives .message the same): rows are placed by index. */
export const rowHeight = 68;
/** rows rendered above and below the visible ones */
const overscan = 8;

export function MessageList({ title, list, unit, selected, outgoing, onSelect }: { title: string; list: ListPages; unit: string; selected: string | undefined; outgoing: boolean; onSelect: (id: string) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  const measure = (): void => {
    const el = box.current;
    if (el) setView({ top: el.scrollTop, height: el.clientHeight || 800 });
  };
  useEffect(() => {
    measure();
    window.addEventListener('resize', measure);
    return () => window.removeEventListener('resize', measure);
  }, []);
  const total = list.total ?? 0;
  const firstShown = Math.floor(view.top / rowHeight);
  const lastShown = Math.min(total, Math.ceil((view.top + view.height) / rowHeight)) - 1;
  const from = Math.max(0, firstShown - overscan);
  const to = Math.min(total - 1, lastShown + overscan);
  useEffect(() => list.want(from, Math.max(from, to)), [from, to, total]);
  // a list shown anew starts at its top
  useEffect(() => {
    if (list.total === undefined && box.current) box.current.scrollTop = 0;
  }, [list.total]);
  const rows = [];
  for (let i = from; i <= to; i++) {
    const r = list.at(i);
    if (r) rows.push(<Row key={r.item.id} index={i} e={r.item} snippet={r.snippet} selected={r.item.id === selected} outgoing={outgoing} onSelect={onSelect} />);
  }
  return (
    <section class="list" aria-label="Messages">
      <div class="list-head">
        <h2>{title}</h2>
        <span class="range">{list.total === undefined ? 'loading…' : total === 0 ? `no ${unit}s` : `${firstShown + 1}–${Math.max(firstShown + 1, lastShown + 1)} of ${total}`}</span>
      </div>
      <div class="scroller" ref={box} onScroll={measure}>
        <ul id="messages" style={{ height: `${total * rowHeight}px` }} aria-rowcount={total}>
          {rows}
        </ul>
      </div>
    </section>
  );
}
