/**
 * @module compose-init
 * What a new message starts with: empty, a reply (to the Reply-To or From), a reply to all
 * (plus the other To and Cc addresses, not the user's own), a forward (the original's
 * attachments carried along as blobs of the stored message), or a saved draft to go on with.
 * Standards: RFC 5322 §3.6.3 (Reply-To), §3.6.4 (In-Reply-To and References of a reply).
 * Security: text only; quoted text is plain text.
 * Limitations: an HTML-only message is quoted as its text, without its layout.
 */
import { formatAddress, type Draft, type EmailAddress, type FullEmail } from './mail-api.js';

export type ComposeKind = 'new' | 'reply' | 'reply-all' | 'forward' | 'edit';

export const emptyDraft: Draft = { to: '', cc: '', subject: '', text: '', attachments: [] };

/** The text of an HTML body: parsed into an inert document (no script runs, nothing loads). */
function htmlText(html: string): string {
  return new DOMParser().parseFromString(html, 'text/html').body.innerText ?? '';
}

function bodyText(e: FullEmail): string {
  const parts = e.textBody.filter((p) => p.partId !== null && (p.type === 'text/plain' || p.type === 'text/html'));
  const text = parts.map((p) => (p.type === 'text/html' ? htmlText : (v: string) => v)(e.bodyValues[p.partId!]?.value ?? '')).join('\n');
  return text.trim() !== '' ? text : e.preview;
}

const prefixed = (prefix: string, subject: string | null): string => {
  const s = subject ?? '';
  return new RegExp(`^${prefix}:`, 'i').test(s) ? s : `${prefix}: ${s}`;
};

const list = (as: readonly EmailAddress[] | null | undefined): string => (as ?? []).map(formatAddress).join(', ');

/** The draft a reply, reply to all or forward of `e` starts from, for the user `me`. */
export function draftFor(kind: ComposeKind, e: FullEmail | undefined, me: string): Draft {
  if (kind === 'new' || !e) return emptyDraft;
  const carried = e.attachments.filter((a) => a.blobId !== null).map((a) => ({ blobId: a.blobId!, name: a.name ?? 'attachment', type: a.type, size: a.size }));
  if (kind === 'edit') {
    // a draft written as rich text comes back as rich text: `html` is filled by the composer (from the server's sanitised copy)
    const rich = e.htmlBody.some((p) => p.type === 'text/html');
    return { to: list(e.to), cc: list(e.cc), subject: e.subject ?? '', text: bodyText(e), ...(rich && { html: '' }), attachments: carried, inReplyTo: e.inReplyTo, references: e.references };
  }
  const from = list(e.from);
  const when = new Date(e.sentAt ?? e.receivedAt).toUTCString();
  if (kind === 'forward') {
    const head = ['-------- Forwarded message --------', `From: ${from}`, `Date: ${when}`, `Subject: ${e.subject ?? ''}`, `To: ${list(e.to)}`, ''];
    return {
      ...emptyDraft,
      subject: prefixed('Fwd', e.subject),
      text: `\n\n${head.join('\n')}\n${bodyText(e)}`,
      attachments: carried,
    };
  }
  const author = e.replyTo && e.replyTo.length > 0 ? e.replyTo : (e.from ?? []);
  const mine = (a: EmailAddress): boolean => a.email.toLowerCase() === me.toLowerCase();
  const authorEmails = new Set(author.map((a) => a.email.toLowerCase()));
  const others = kind === 'reply-all' ? [...(e.to ?? []), ...(e.cc ?? [])].filter((a) => !mine(a) && !authorEmails.has(a.email.toLowerCase())) : [];
  const quoted = bodyText(e)
    .split(/\r?\n/)
    .map((l) => `> ${l}`)
    .join('\n');
  return {
    ...emptyDraft,
    to: list(author.filter((a) => !mine(a) || author.length === 1)),
    cc: list(others),
    subject: prefixed('Re', e.subject),
    text: `\n\nOn ${when}, ${from} wrote:\n${quoted}\n`,
    inReplyTo: e.messageId,
    references: [...(e.references ?? []), ...(e.messageId ?? [])],
  };
}
