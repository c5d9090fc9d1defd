/**
 * @module envelope
 * FETCH ENVELOPE from a message's header fields, with its address lists parsed into IMAP's
 * (name adl mailbox host) form.
 * Standards: RFC 9051 §7.5.2 (ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc,
 *   in-reply-to, message-id; sender and reply-to default to from when absent or empty); the
 *   addresses are read by address-list.
 * Security: header text is sent as it is stored, never interpreted: values with 8-bit octets
 *   or line ends go as literals (imap-value).
 * Limitations: encoded words are not decoded (IMAP sends them raw, as Dovecot does).
 */
import type { HeaderField } from '../mime/index.js';
import { addressList } from './address-list.js';
import type { ImapValue } from './imap-value.js';

export { addressList, addressTexts, firstDisplayName, firstMailbox } from './address-list.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** RFC 9051 §7.5.2 ENVELOPE. */
export function envelopeOf(fields: readonly HeaderField[]): ImapValue {
  // a field given more than once (RFC 5322 §3.6 allows one): addresses from every occurrence,
  // the last one of the others (what Dovecot sends, so clients see the same from both)
  const all = (n: string): string[] | undefined => {
    const v = fields.filter((f) => f.name.toLowerCase() === n).map((f) => f.value);
    return v.length === 0 ? undefined : v;
  };
  const str = (n: string): ImapValue => {
    const v = all(n)?.at(-1);
    return v === undefined ? null : latin1(v.trim());
  };
  const from = addressList(all('from'));
  const sender = addressList(all('sender'));
  const replyTo = addressList(all('reply-to'));
  return [
    str('date'),
    str('subject'),
    from,
    sender ?? from,
    replyTo ?? from,
    addressList(all('to')),
    addressList(all('cc')),
    addressList(all('bcc')),
    str('in-reply-to'),
    str('message-id'),
  ];
}
