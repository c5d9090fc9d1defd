/**
 * @module message-flags
 * A message's flags between Maildir and IMAP: the Maildir info letters (D Draft, F Flagged,
 * P Passed, R Replied, S Seen, T Trashed) as IMAP system flags and back, keywords after them.
 * Standards: RFC 9051 §2.3.2 (system flags, keywords; \Recent set by the server only); the
 *   Maildir spec's info flags.
 * Security: a client's "\" flag that is not a system flag is refused (splitFlags: undefined).
 * Limitations: P (Passed) has no IMAP flag and is not shown.
 */
const toImap: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };
const toMaildir: Record<string, string> = { '\\DRAFT': 'D', '\\FLAGGED': 'F', '\\ANSWERED': 'R', '\\SEEN': 'S', '\\DELETED': 'T' };

export const systemFlags = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** IMAP flags of Maildir info flags (P, Passed, has no IMAP system flag and is not shown). */
function imapFlags(maildir: string): string[] {
  const out: string[] = [];
  for (const c of maildir) if (toImap[c]) out.push(toImap[c]);
  return out;
}

/** The IMAP flags of a message: system flags, then keywords. */
export function flagsOf(m: { flags: string; keywords: readonly string[]; recent?: boolean }): string[] {
  return [...imapFlags(m.flags), ...(m.recent ? ['\\Recent'] : []), ...m.keywords];
}

/**
 * IMAP flags split into Maildir letters and keywords; \Recent is dropped (RFC 9051 §2.3.2:
 * the server sets it); another "\" flag is refused (undefined).
 */
export function splitFlags(flags: readonly string[]): { letters: string; keywords: string[] } | undefined {
  let letters = '';
  const keywords: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const l = toMaildir[f.toUpperCase()];
      if (l) letters += l;
      else if (f.toUpperCase() !== '\\RECENT') return undefined;
    } else keywords.push(f);
  }
  return { letters: normalizeLetters(letters), keywords };
}

function normalizeLetters(s: string): string {
  return [...new Set(s)].sort().join('');
}
