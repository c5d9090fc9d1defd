/**
 * @module message-list
 * One page of conversations or messages (newest first): sender (and how many messages the
 * conversation has), subject, preview or search snippet with its
 * matches highlighted, date, flag, attachment and unread marks; older/newer page buttons and
 * "1–50 of N". Only the page shown was fetched (mail-api), so a folder of 100,000 messages
 * lists as fast as one of 50.
 * Standards: RFC 8621 §5.1 (snippets: HTML-escaped text with <mark> around matches).
 * Security: a snippet is parsed into text and <mark> elements only, never set as HTML.
 * Limitations: paging rather than a virtual list.
 */
import { useEffect, useRef } from 'preact/hooks';
import { pageSize, type ListItem, type Page } from './mail-api.js';

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

function Row({ e, snippet, selected, outgoing, onSelect }: { e: ListItem; snippet?: { subject: string | null; preview: string | null }; selected: boolean; outgoing: boolean; onSelect: (id: string) => void }) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (selected) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [selected]);
  // in Sent and Drafts the other party is the recipient
  const who = outgoing ? e.to?.[0] : e.from?.[0];
  const classes = ['message', e.keywords.$seen ? 'seen' : 'unseen', e.keywords.$flagged ? 'flagged' : '', selected ? 'selected' : ''].filter(Boolean).join(' ');
  return (
    <li ref={ref} class={classes} data-id={e.id} aria-selected={selected} onClick={() => onSelect(e.id)}>
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

export function MessageList({ title, page, selected, outgoing, onSelect, onPage }: { title: string; page: Page | undefined; selected: string | undefined; outgoing: boolean; onSelect: (id: string) => void; onPage: (position: number) => void }) {
  const first = page ? page.position + 1 : 0;
  const last = page ? page.position + page.items.length : 0;
  return (
    <section class="list" aria-label="Messages">
      <div class="list-head">
        <h2>{title}</h2>
        <span class="range">{page ? (page.total === 0 ? 'no messages' : `${first}–${last} of ${page.total}`) : 'loading…'}</span>
        <button type="button" data-page="newer" disabled={!page || page.position === 0} onClick={() => page && onPage(Math.max(0, page.position - pageSize))} aria-label="Newer">
          ‹
        </button>
        <button type="button" data-page="older" disabled={!page || last >= page.total} onClick={() => page && onPage(page.position + pageSize)} aria-label="Older">
          ›
        </button>
      </div>
      <ul id="messages">
        {page?.items.map((e) => <Row key={e.id} e={e} snippet={page.snippets.get(e.id)} selected={e.id === selected} outgoing={outgoing} onSelect={onSelect} />)}
      </ul>
    </section>
  );
}
