/**
 * @module imap-url
 * The IMAP URLs a CATENATE part may name: one message, or a section of it, by mailbox,
 * UIDVALIDITY and UID.
 * Standards: RFC 5092 §3-§6 ("imap://" [iuserinfo "@"] host [":" port] "/" or a relative URL
 *   starting with "/"; enc-mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" section];
 *   ["/;PARTIAL=" o["." n]]; %-encoded octets, the mailbox in UTF-8; parameter names
 *   case-insensitive), RFC 4469 §5
 *   (CATENATE takes absolute URLs or relative ones starting with "/").
 * Security: only the form that names one message (or octets of it) is accepted (no search,
 *   no URLAUTH); the caller checks the user and host.
 * Limitations: ";URLAUTH=" is refused.
 */

export interface ImapMessageUrl {
  /** from an absolute URL: the user (without ";AUTH=") and the host, in lower case */
  readonly user?: string;
  readonly host?: string;
  /** UTF-8 */
  readonly mailbox: string;
  readonly uidValidity?: number;
  readonly uid: number;
  /** the FETCH section text, e.g. "1.MIME", "HEADER"; "" for the whole message */
  readonly section: string;
  /** ";PARTIAL=o.n": octets from origin o, at most n (all to the end without n) */
  readonly partial?: { readonly origin: number; readonly length?: number };
}

function unescape(s: string): string | undefined {
  try {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '%') {
        if (!/^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) return undefined;
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(...Buffer.from(s[i], 'utf8'));
    }
    const out = Buffer.from(bytes).toString('utf8');
    return Buffer.from(out, 'utf8').equals(Buffer.from(bytes)) ? out : undefined;
  } catch {
    return undefined;
  }
}

const number = (s: string): number | undefined => (/^[1-9]\d{0,9}$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : undefined);

/** The message a URL names; undefined when it is not of that form. */
export function parseImapUrl(url: string): ImapMessageUrl | undefined {
  let rest = url;
  let user: string | undefined;
  let host: string | undefined;
  const abs = /^imap:\/\/(?:([^@/]*)@)?([^/:]+)(?::\d+)?(\/.*)$/i.exec(url);
  if (abs) {
    const u = abs[1] === undefined ? undefined : unescape(abs[1].replace(/;AUTH=.*$/i, ''));
    if (abs[1] !== undefined && u === undefined) return undefined;
    user = u?.toLowerCase();
    host = abs[2].toLowerCase();
    rest = abs[3];
  } else if (!url.startsWith('/')) return undefined;
  // "/" enc-mailbox [uidvalidity] "/;UID=" nz-number ["/;SECTION=" enc-section]
  const m = /^\/([^;/]+(?:\/[^;/]+)*);?(?:UIDVALIDITY=(\d+))?\/;UID=(\d+)(?:\/;SECTION=([^;/][^;]*?))?(?:\/;PARTIAL=(\d{1,10})(?:\.(\d{1,10}))?)?$/i.exec(rest);
  if (!m) return undefined;
  const mailbox = unescape(m[1]);
  const uid = number(m[3]);
  const uidValidity = m[2] === undefined ? undefined : number(m[2]);
  const section = m[4] === undefined ? '' : unescape(m[4]);
  if (mailbox === undefined || uid === undefined || (m[2] !== undefined && uidValidity === undefined) || section === undefined) return undefined;
  // RFC 5092 §3: partial-range = number ["." nz-number]
  if (m[6] !== undefined && number(m[6]) === undefined) return undefined;
  const partial = m[5] === undefined ? undefined : { origin: Number(m[5]), ...(m[6] !== undefined && { length: Number(m[6]) }) };
  return { ...(user !== undefined && { user }), ...(host !== undefined && { host }), mailbox, ...(uidValidity !== undefined && { uidValidity }), uid, section: section.toUpperCase(), ...(partial && { partial }) };
}
