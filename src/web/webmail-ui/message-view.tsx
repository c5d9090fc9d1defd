/**
 * @module message-view
 * One open message: the conversation it is in (its other messages, any folder, one click
 * away), its header fields, the actions (reply, reply to all, forward, archive,
 * delete, flag, mark unread, move), its body and its attachments. The body is the server's
 * sanitised HTML document (src/web/webmail/message-frame.ts) shown in a sandboxed frame
 * (srcdoc, no allow-scripts, no allow-same-origin: an opaque origin that can run nothing and
 * reach nothing of this page), under this page's CSP and its own; remote images stay blocked
 * until "Show images" asks the server for the document with them.
 * Standards: WHATWG HTML (iframe sandbox, srcdoc), W3C CSP Level 3, RFC 8620 §6.2 (download).
 * Security: message text is rendered as text; nothing from a message is set as this page's HTML.
 * Limitations: the frame scrolls on its own (its height cannot be read across the sandbox).
 */
import { useEffect, useState } from 'preact/hooks';
import type { JmapClient } from './jmap-client.js';
import { formatAddress, type EmailAddress, type FullEmail, type ListItem, type Mailbox } from './mail-api.js';
import type { ComposeKind } from './compose-init.js';

export interface MessageActions {
  archive(e: FullEmail): void;
  remove(e: FullEmail): void;
  move(e: FullEmail, mailboxId: string): void;
  flag(e: FullEmail): void;
  unread(e: FullEmail): void;
  compose(kind: ComposeKind, source?: FullEmail): void;
}

const sizeOf = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);

function Addresses({ label, list }: { label: string; list: readonly EmailAddress[] | null }) {
  if (!list || list.length === 0) return null;
  return (
    <div class={`field field-${label.toLowerCase()}`}>
      <span class="label">{label}</span> {list.map(formatAddress).join(', ')}
    </div>
  );
}

/** The conversation the open message is in: each message (sender, date, preview, folder), the open one marked; a click opens another. */
function Conversation({ emails, open, mailboxes, onOpen }: { emails: readonly ListItem[]; open: string; mailboxes: readonly Mailbox[]; onOpen: (id: string) => void }) {
  if (emails.length < 2) return null;
  const folder = (e: ListItem): string => mailboxes.find((m) => e.mailboxIds[m.id])?.name ?? '';
  return (
    <ol class="conversation" aria-label={`Conversation, ${emails.length} messages`}>
      {emails.map((e) => (
        <li key={e.id} data-id={e.id} class={`${e.id === open ? 'current' : ''} ${e.keywords.$seen ? 'seen' : 'unseen'}`} aria-current={e.id === open} onClick={() => e.id !== open && onOpen(e.id)}>
          <span class="from">{e.from?.[0] ? (e.from[0].name ?? e.from[0].email) : '(no sender)'}</span>
          <span class="folder">{folder(e)}</span>
          <span class="date">{new Date(e.receivedAt).toLocaleString()}</span>
          <span class="preview">{e.preview}</span>
        </li>
      ))}
    </ol>
  );
}

export function MessageView({ email, conversation, client, mailboxes, actions, onOpen, onBack, onError }: { email: FullEmail; conversation: readonly ListItem[]; client: JmapClient; mailboxes: readonly Mailbox[]; actions: MessageActions; onOpen: (id: string) => void; onBack: () => void; onError: (err: unknown) => void }) {
  const [remote, setRemote] = useState(false);
  const [frame, setFrame] = useState<{ html: string; blockedImages: number } | undefined>(undefined);
  useEffect(() => {
    let current = true;
    client.frame(email.id, remote).then((f) => current && setFrame(f), onError);
    return () => {
      current = false;
    };
  }, [email.id, remote]);
  const here = Object.keys(email.mailboxIds)[0];
  // an inline part (a cid: image of the HTML) is shown in the body, not listed
  const attachments = email.attachments.filter((a) => a.cid === null || a.disposition === 'attachment');
  return (
    <article class="reader" aria-label="Message">
      <div class="toolbar">
        <button type="button" class="back" onClick={onBack} aria-label="Back to the list">
          ←
        </button>
        {email.keywords.$draft && <button type="button" class="primary" data-action="edit" onClick={() => actions.compose('edit', email)}>Edit draft</button>}
        <button type="button" data-action="reply" onClick={() => actions.compose('reply', email)}>Reply</button>
        <button type="button" data-action="reply-all" onClick={() => actions.compose('reply-all', email)}>Reply all</button>
        <button type="button" data-action="forward" onClick={() => actions.compose('forward', email)}>Forward</button>
        <button type="button" data-action="archive" onClick={() => actions.archive(email)}>Archive</button>
        <button type="button" data-action="delete" onClick={() => actions.remove(email)}>Delete</button>
        <button type="button" data-action="flag" aria-pressed={email.keywords.$flagged === true} onClick={() => actions.flag(email)}>
          {email.keywords.$flagged ? '★ Flagged' : '☆ Flag'}
        </button>
        <button type="button" data-action="unread" onClick={() => actions.unread(email)}>Mark unread</button>
        <select
          aria-label="Move to"
          data-action="move"
          value=""
          onChange={(ev) => {
            const to = (ev.currentTarget).value;
            if (to !== '') actions.move(email, to);
          }}
        >
          <option value="">Move to…</option>
          {mailboxes.filter((m) => m.id !== here).map((m) => (
            <option key={m.id} value={m.id}>{m.name}</option>
          ))}
        </select>
      </div>
      <h2 class="subject">{email.subject ?? '(no subject)'}</h2>
      <Conversation emails={conversation} open={email.id} mailboxes={mailboxes} onOpen={onOpen} />
      <div class="fields">
        <Addresses label="From" list={email.from} />
        <Addresses label="To" list={email.to} />
        <Addresses label="Cc" list={email.cc} />
        <div class="field">
          <span class="label">Date</span> {new Date(email.sentAt ?? email.receivedAt).toLocaleString()}
        </div>
      </div>
      {frame && frame.blockedImages > 0 && !remote && (
        <p class="images-note">
          {frame.blockedImages} remote image{frame.blockedImages === 1 ? ' is' : 's are'} blocked (they could tell the sender you read this).{' '}
          <button type="button" data-action="show-images" onClick={() => setRemote(true)}>Show images</button>
        </p>
      )}
      {attachments.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {attachments.map((a) => (
            <li key={a.partId}>
              {a.blobId !== null && (
                <a class="attachment" href={client.downloadUrl(a.blobId, a.name ?? 'attachment', a.type)} download={a.name ?? 'attachment'}>
                  ⤓ {a.name ?? 'attachment'} <span class="size">({a.type}, {sizeOf(a.size)})</span>
                </a>
              )}
            </li>
          ))}
        </ul>
      )}
      {frame && <iframe class="body" title="Message body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc={frame.html} />}
    </article>
  );
}
