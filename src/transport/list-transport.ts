/**
 * @module list-transport
 * The mail exploder of seed §2.1: a message for a mailing list (route "list", next hop = the
 * list address) is re-submitted through intake, once, to the list's members, with the envelope
 * sender `LIST-owner@domain` so that bounces reach the list owner and not the author.
 * Headers added: List-Id (RFC 2919), List-Post and List-Unsubscribe (RFC 2369),
 * List-Unsubscribe-Post when a one-click https URL is configured (RFC 8058), X-Loop (the list's
 * address; one per list the copy went through) and Precedence: list. List-* fields of an
 * upstream list are replaced by this list's.
 * Standards: RFC 2919 §3 (List-Id), RFC 2369 §3 (List-Post, List-Unsubscribe), RFC 8058 §3
 *   (one-click), RFC 5321 §3.9.2 (a list's copies carry the owner as reverse path),
 *   RFC 3834 §3.1.8 (Precedence: list is common practice, not a standard).
 * Security: a member is an address (resolve's parseListMember: never a pipe, file or include,
 *   whatever the directory holds); a list never loops: the list itself is skipped as a member, and a copy that already
 *   carries this list's X-Loop or List-Id (nested lists that contain each other) is dropped.
 *   The copy enters through intake like any message (Received count, size, Delivered-To checks).
 *   With a sealer (`[mail_auth] seal_lists`), each copy gets the list domain's DKIM signature and
 *   an ARC set (RFC 8617), made by intake as it spools the copy (never read whole into memory).
 * Limitations: one copy for all members (no VERP, no per-member unsubscribe URL); the header
 *   block must fit in 1 MiB; no moderation, no archive.
 */
import { Readable } from 'node:stream';
import { parseMailbox } from '../address/index.js';
import {
  MailError,
  replyForError,
  isTemporary,
  statusForAll,
  type AcceptedRecipient,
  type DeliveryAction,
  type DeliveryRequest,
  type DeliveryStatus,
  type DirectoryLookup,
  type EnhancedStatus,
  type Intake,
  type ListSealer,
  type MailingList,
  type SessionInfo,
  type SmtpReply,
  type StatusDetail,
  type Transport,
} from '../core/index.js';
import { listIdFor, listOwnerAddress, parseListMember } from '../resolve/index.js';
import { splitMessage } from '../protocol/mime/index.js';

export interface ListTransportOptions {
  readonly intake: Intake;
  readonly directory: Pick<DirectoryLookup, 'findList'>;
  /** an https URL for one-click unsubscribe (RFC 8058) for this list; undefined → mailto only */
  readonly unsubscribeUrl?: (list: MailingList) => string | undefined;
  /** ARC set and DKIM signature of the list's domain on each copy (policy/trust), when configured */
  readonly sealer?: ListSealer;
}

/** Fields an upstream list added that this list replaces with its own. */
const LIST_FIELDS = new Set([
  'list-id',
  'list-post',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-help',
  'list-subscribe',
  'list-owner',
  'list-archive',
  'precedence',
]);

const MAX_HEADER = 1024 * 1024;

const session: SessionInfo = { protocol: 'internal', internal: true, mayRelay: true, submission: false };

interface HeaderField {
  /** lower-case field name */
  readonly name: string;
  /** the field as it was, folded lines joined by CRLF, without the final CRLF */
  readonly raw: string;
  /** unfolded value */
  readonly value: string;
}

/**
 * Splits a header block (without the blank line) into fields (RFC 5322 §2.2, §2.2.3 unfolding),
 * keeping each field's raw folded text and lines that are not fields, so the copy a list sends
 * keeps the author's header byte for byte (mime's parseHeaderFields unfolds and drops those).
 */
export function parseHeaderFields(block: string): HeaderField[] {
  const out: { name: string; lines: string[] }[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) out[out.length - 1].lines.push(line);
    else {
      const colon = line.indexOf(':');
      out.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', lines: [line] });
    }
  }
  return out.map((f) => {
    const raw = f.lines.join('\r\n');
    const colon = raw.indexOf(':');
    return { name: f.name, raw, value: colon < 0 ? '' : raw.slice(colon + 1).replace(/\r\n/g, '').trim() };
  });
}

/** A quoted-string for the List-Id phrase, or undefined when it cannot be written in ASCII. */
function phrase(text: string | undefined): string | undefined {
  if (!text || !/^[\x20-\x7e]+$/.test(text)) return undefined;
  return /^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]+$/.test(text) ? text : `"${text.replace(/(["\\])/g, '\\$1')}"`;
}

export class ListTransport implements Transport {
  readonly name = 'list';
  constructor(private readonly opts: ListTransportOptions) {}

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const all = (action: DeliveryAction, status: EnhancedStatus, extra: StatusDetail = {}): DeliveryStatus[] =>
      statusForAll(req, action, status, extra);
    const fromError = (err: unknown, what: string): DeliveryStatus[] => {
      const reply = replyForError(err);
      const status = reply.status ?? (isTemporary(reply) ? '4.3.0' : '5.3.0');
      const detail = err instanceof MailError ? undefined : `${what}: ${err instanceof Error ? err.message : String(err)}`;
      return all(isTemporary(reply) ? 'delayed' : 'failed', status, { reply, ...(detail ? { error: detail } : {}) });
    };

    let list: MailingList | undefined;
    try {
      list = await this.opts.directory.findList(req.route.nextHop);
    } catch (err) {
      return fromError(err, 'directory');
    }
    if (!list) return all('failed', '5.1.1', { error: `no such list: ${req.route.nextHop}` });

    const listId = listIdFor(list.address);
    const owner = listOwnerAddress(list.address);
    let source: Readable;
    try {
      source = await req.openMessage();
    } catch (err) {
      return all('delayed', '4.3.0', { error: `cannot open message: ${(err as Error).message}` });
    }
    try {
      const split = await splitMessage(source, { maxHeaderBytes: MAX_HEADER });
      if (!split.complete) return all('failed', '5.6.0', { error: 'message header over 1 MiB' });
      // latin1: byte for byte, so kept fields are written back exactly as they came
      const fields = parseHeaderFields(split.header.toString('latin1'));

      // A copy that already went through this list (lists that contain each other): drop it,
      // its members already have the message.
      const self = list.address.toLowerCase();
      const seen =
        fields.some((f) => f.name === 'x-loop' && f.value.toLowerCase() === self) ||
        fields.some((f) => f.name === 'list-id' && f.value.toLowerCase().includes(`<${listId}>`));
      if (seen) {
        return all('expanded', '2.0.0', { error: `already expanded by ${list.address} (X-Loop): copy dropped` });
      }

      // Members: the list itself is skipped (a list may name itself; that is no loop).
      const rejected: string[] = [];
      const accepted: AcceptedRecipient[] = [];
      const senderAddr = parseMailbox(owner, { smtpUtf8: true });
      const mail = { size: req.size, ...(req.envelopes[0]?.body ? { body: req.envelopes[0].body } : {}), ...(req.envelopes[0]?.smtpUtf8 ? { smtpUtf8: true } : {}) };
      await this.opts.intake.checkSender(session, senderAddr, mail);
      const done = new Set<string>([self]);
      for (const m of list.members) {
        const key = m.trim().toLowerCase();
        if (done.has(key)) continue;
        done.add(key);
        // the one member rule `correio list add` and `correio resolve` apply too
        const member = parseListMember(m);
        if (!member.ok) {
          rejected.push(`${m} (${member.reason})`);
          continue;
        }
        try {
          accepted.push(await this.opts.intake.checkRecipient(session, senderAddr, member.address, {}));
        } catch (err) {
          const reply: SmtpReply = replyForError(err);
          // A temporary refusal: try the whole list again later, before anyone got a copy.
          if (isTemporary(reply)) return all('delayed', reply.status ?? '4.3.0', { reply, error: `member ${m}: temporary failure` });
          rejected.push(`${m} (${reply.code} ${reply.status ?? ''} ${reply.lines.join(' ')})`.replace(/\s+\)/, ')'));
        }
      }
      const note = rejected.length > 0 ? { error: `member(s) refused: ${rejected.join(', ')}`.slice(0, 900) } : {};
      if (accepted.length === 0) {
        return all('expanded', '2.0.0', { error: list.members.length === 0 || rejected.length === 0 ? 'list has no other members' : note.error });
      }

      const added: string[] = [];
      const desc = phrase(list.description);
      added.push(`List-Id: ${desc ? `${desc} ` : ''}<${listId}>`);
      added.push(`List-Post: <mailto:${list.address}>`);
      const mailto = `<mailto:${owner}?subject=unsubscribe>`;
      const https = this.opts.unsubscribeUrl?.(list);
      if (https && /^https:\/\/[^\s<>]+$/.test(https)) {
        added.push(`List-Unsubscribe: <${https}>, ${mailto}`);
        added.push('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
      } else added.push(`List-Unsubscribe: ${mailto}`);
      added.push('Precedence: list');
      added.push(`X-Loop: ${list.address}`);
      const kept = fields.filter((f) => !LIST_FIELDS.has(f.name)).map((f) => f.raw);
      const header = Buffer.from([...added, ...kept].join('\r\n') + '\r\n\r\n', 'latin1');

      const body = Readable.from(
        (async function* () {
          yield header;
          yield* split.body;
        })(),
      );
      // RFC 8617 §4: intake seals the copy for the list's domain as it spools it (never held whole)
      const domain = list.address.slice(list.address.lastIndexOf('@') + 1);
      const seal = this.opts.sealer && this.opts.sealer.enabled !== false ? { seal: { sealer: this.opts.sealer, domain } } : {};
      const result = await this.opts.intake.receive({ session, sender: senderAddr, mail, recipients: accepted, ...seal }, body, signal);
      return all('expanded', '2.0.0', { reply: result.reply, ...note });
    } catch (err) {
      return fromError(err, 're-injection');
    } finally {
      source.destroy();
    }
  }
}

