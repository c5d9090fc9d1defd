/**
 * @module rspamd
 * Content scan by rspamd at the end of data on the MX port (`[policy] rspamd_url`): the message
 * is POSTed to rspamd's `/checkv2` with the SMTP facts as request headers, and its action
 * decides: `reject` → 550 5.7.1, `soft reject` and `greylist` → 451 4.7.1, `add header` and
 * `rewrite subject` → accepted with the quarantine mark (Junk, as DMARC quarantine), `no action`
 * → accepted. Every scanned message gets `X-Rspamd-Action` and `X-Rspamd-Score` fields (and
 * `X-Spam: Yes` when marked); fields of those names that arrive with the message are removed.
 * Standards: rspamd's HTTP protocol (`POST /checkv2`; request headers IP, Helo, From, User,
 *   Hostname, MTA-Name; JSON answer with action, score, required_score, messages.smtp_message);
 *   RFC 5321 §4.2.5 (a temporary failure for soft reject), RFC 3463 (5.7.1, 4.7.1).
 * Security: rspamd's answer is capped (1 MiB) and its reply text reduced to printable ASCII (at
 *   most 200 characters) before it goes into an SMTP reply. When rspamd cannot be reached, times
 *   out or answers badly, `rspamd_failure` decides: "accept" (fail open, the default: mail still
 *   flows, `X-Rspamd-Action: unavailable`) or "defer" (451 4.7.1, never a permanent refusal).
 * Limitations: the message is sent once all of it has arrived, read again from the spool
 *   (MessageDraft.written: never held whole here), with its length; recipients are not sent (the check sees the session and sender);
 *   no rspamd password or encryption (run it on loopback); the subject is not rewritten.
 */
import http from 'node:http';
import https from 'node:https';
import { QUARANTINE_FIELD, reply, type MessageCheckRun, type ReceivedMessage, type ReversePath, type SessionInfo, type MessageVerdict } from '../core/index.js';

export interface RspamdSettings {
  /** e.g. "http://127.0.0.1:11333" (the normal worker) */
  readonly url: string;
  /** what an unreachable or failing rspamd does: accept the mail, or defer it */
  readonly onFailure: 'accept' | 'defer';
  readonly timeoutMs: number;
  /** our host name (MTA-Name) */
  readonly hostname: string;
}

/** What rspamd said, or why it said nothing. */
export type RspamdAnswer = { readonly action: string; readonly score: number; readonly required: number; readonly message?: string } | { readonly error: string };

const MAX_ANSWER = 1024 * 1024;
const OWN_FIELDS = new Set(['x-rspamd-action', 'x-rspamd-score', 'x-spam', QUARANTINE_FIELD.toLowerCase()]);

const printable = (s: string): string => s.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

/** POSTs `message` (given whole, or read from the spool) to `/checkv2`; never throws. */
export function askRspamd(s: RspamdSettings, session: SessionInfo, sender: ReversePath, message: Buffer | ReceivedMessage): Promise<RspamdAnswer> {
  const size = Buffer.isBuffer(message) ? message.length : message.size;
  let url: URL;
  try {
    url = new URL('/checkv2', s.url);
  } catch {
    return Promise.resolve({ error: `bad rspamd_url ${s.url}` });
  }
  const headers: Record<string, string> = {
    'Content-Length': String(size),
    'MTA-Name': oneLine(s.hostname),
    From: sender ? `${sender.local}@${sender.domain}` : '<>',
  };
  if (session.remoteAddress) headers.IP = session.remoteAddress.replace(/^::ffff:/, '');
  if (session.heloName) headers.Helo = oneLine(session.heloName);
  if (session.authUser) headers.User = oneLine(session.authUser);
  if (session.remoteHostname) headers.Hostname = oneLine(session.remoteHostname);
  return new Promise((resolve) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method: 'POST', headers, timeout: s.timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) req.destroy(new Error('answer over 1 MiB'));
        else parts.push(c);
      });
      res.on('error', (err) => resolve({ error: err.message }));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve({ error: `HTTP status ${res.statusCode ?? '?'}` });
        try {
          const j = JSON.parse(Buffer.concat(parts).toString('utf8')) as { action?: unknown; score?: unknown; required_score?: unknown; messages?: { smtp_message?: unknown } };
          if (typeof j.action !== 'string') return resolve({ error: 'answer without an action' });
          const msg = j.messages?.smtp_message;
          resolve({ action: j.action, score: Number(j.score) || 0, required: Number(j.required_score) || 0, ...(typeof msg === 'string' ? { message: printable(msg) } : {}) });
        } catch {
          resolve({ error: 'answer is not JSON' });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
    if (Buffer.isBuffer(message)) return req.end(message);
    const from = message.read();
    // a spool read error ends the request short: rspamd answers nothing usable, as when down
    from.on('error', (err) => req.destroy(err));
    from.pipe(req);
  });
}

/** The verdict for an answer (rspamd's actions, see the module comment). */
export function rspamdVerdict(s: Pick<RspamdSettings, 'onFailure'>, a: RspamdAnswer): MessageVerdict {
  const remove = (name: string): boolean => OWN_FIELDS.has(name);
  if ('error' in a) {
    if (s.onFailure === 'defer') return { refusal: reply(451, '4.7.1', 'Content scanner unavailable, try again later'), fields: [], remove };
    return { fields: [`X-Rspamd-Action: unavailable (${printable(a.error)})`], remove };
  }
  const said = a.message ? `: ${printable(a.message)}` : '';
  const fields = [`X-Rspamd-Action: ${printable(a.action)}`, `X-Rspamd-Score: ${a.score.toFixed(2)} / ${a.required.toFixed(2)}`];
  switch (a.action) {
    case 'reject':
      return { refusal: reply(550, '5.7.1', `Message rejected as spam${said}`), fields, remove };
    case 'soft reject':
    case 'greylist':
      return { refusal: reply(451, '4.7.1', `Message deferred by the content scanner${said}, try again later`), fields, remove };
    case 'add header':
    case 'rewrite subject':
      return { fields: [...fields, 'X-Spam: Yes', `${QUARANTINE_FIELD}: rspamd ${printable(a.action)} (score ${a.score.toFixed(2)})`], remove };
    default:
      return { fields, remove };
  }
}

/** The end-of-data check: once the message is spooled, ask rspamd, then decide. */
export function rspamdScan(s: RspamdSettings, session: SessionInfo, sender: ReversePath): MessageCheckRun {
  return {
    body: () => undefined,
    abort: () => undefined,
    finish: async (message) => rspamdVerdict(s, await askRspamd(s, session, sender, message)),
  };
}

/** Two end-of-data verdicts as one: the first refusal; both lists of fields; either removal. */
export function mergeVerdicts(a: MessageVerdict, b: MessageVerdict): MessageVerdict {
  const refusal = a.refusal ?? b.refusal;
  return {
    ...(refusal ? { refusal } : {}),
    fields: [...a.fields, ...b.fields],
    remove: (name, value) => (a.remove?.(name, value) ?? false) || (b.remove?.(name, value) ?? false),
  };
}
