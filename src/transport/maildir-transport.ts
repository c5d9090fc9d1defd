/**
 * @module maildir-transport
 * The local transport ("local"): final delivery into a user's mailbox. Each envelope's route
 * next hop is the mailbox owner's address; the message gets `Return-Path:` and `Delivered-To:`
 * on top and is streamed into the MailboxStore with the envelope id as unique key, so a
 * delivery repeated after a crash is stored once.
 * Standards: RFC 5321 §4.4 (Return-Path added at final delivery), RFC 3464 §2.3.3 (per-recipient
 *   Action/Status), RFC 3463 (5.1.1 bad mailbox, 4.3.1 system full, 4.2.2 mailbox full,
 *   4.4.3 directory failure; X.2.2 mailbox over its quota, docs/quota.md).
 * Security: a mailbox name comes from the route set by the resolver, and the MailboxStore
 *   validates it again; header values have CR and LF removed. A mailbox path holding a
 *   symbolic link is refused by the store and deferred here (4.3.0, the path in the log).
 *   A message carrying the quarantine mark of the inbound DMARC check (core's QUARANTINE_FIELD)
 *   goes to the user's Junk folder (Maildir++ `.Junk`, RFC 7489 §6.3 "quarantine").
 * Limitations: recipients of one request are delivered one after another. The owner's lookup is
 *   shared by the deliveries to that mailbox that start in the same turn of the event loop (up to
 *   its setImmediate): a user removed in between still gets those, as if delivered a moment
 *   earlier. An envelope the queue
 *   says was never tried (DeliveryRequest.neverTried: taken from an acceptor's notice, no scan
 *   had seen it) is the store's freshKey: not looked for in cur/ (that look only finds a copy an
 *   earlier try stored and a reader then moved there) and moved into new/ by rename(), which
 *   would replace, not find, a copy an earlier try left there; so only a first try may claim it.
 */
import { Readable } from 'node:stream';
import {
  MailError, QUARANTINE_FIELD, addressToString, replies, reversePathToString,
  type DeliveryRequest, type DeliveryStatus, type DirectoryLookup, type EnhancedStatus, type Envelope, type MailboxStore, type QuotaGate, type Transport, type User,
} from '../core/index.js';
import { clearAfterTurn, nextChunk } from '../util/index.js';

export interface MaildirTransportOptions {
  readonly mailboxes: MailboxStore;
  /** when given, a mailbox owner who no longer exists fails with 5.1.1 */
  readonly directory?: Pick<DirectoryLookup, 'findUser'>;
  /** transport name routes use (default "local") */
  readonly name?: string;
  /**
   * the folder for mail the inbound checks marked for quarantine (QUARANTINE_FIELD, RFC 7489
   * §6.3): "Junk" by default; undefined keeps it in INBOX with its mark
   */
  readonly quarantineFolder?: string;
  /**
   * mailbox quotas: a full mailbox defers (4.2.2, a DSN when the queue lifetime ends), a message
   * larger than the whole quota fails at once (5.2.2)
   */
  readonly quota?: QuotaGate;
}

/** How much of a message is searched for the quarantine mark (our fields come first). */
const MARK_WINDOW = 64 * 1024;
const markRe = new RegExp(`(^|\\n)${QUARANTINE_FIELD}:`, 'i');

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describe(err: unknown): string {
  if (err instanceof MailError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** The trace fields final delivery adds (RFC 5321 §4.4), CRLF-terminated. */
export function deliveryHeaders(env: Envelope): string {
  return `Return-Path: <${oneLine(reversePathToString(env.sender))}>\r\nDelivered-To: ${oneLine(addressToString(env.recipient))}\r\n`;
}

export class MaildirTransport implements Transport {
  readonly name: string;
  readonly #opts: MaildirTransportOptions;
  /**
   * The directory's answers of this turn of the event loop, by mailbox (emptied by a
   * setImmediate): a burst of deliveries to one mailbox starts in one turn, and each lookup is a
   * SQLite read transaction (two fcntl locks and an fstat, issue 19)
   */
  readonly #owners = new Map<string, Promise<User | undefined>>();

  constructor(opts: MaildirTransportOptions) {
    this.#opts = opts;
    this.name = opts.name ?? 'local';
  }

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const out: DeliveryStatus[] = [];
    for (const env of req.envelopes) {
      if (signal.aborted) {
        out.push({ envelopeId: env.id, action: 'delayed', status: '4.3.0', error: 'delivery interrupted (shutting down)' });
        continue;
      }
      out.push(await this.#deliverOne(req, env));
    }
    return out;
  }

  async #deliverOne(req: DeliveryRequest, env: Envelope): Promise<DeliveryStatus> {
    const user = env.route.nextHop;
    const { directory, mailboxes } = this.#opts;
    let owner: User | undefined;
    if (directory) {
      try {
        owner = await this.#owner(directory, user);
        if (!owner) {
          return { envelopeId: env.id, action: 'failed', status: '5.1.1', reply: replies.noSuchUser() };
        }
      } catch (err) {
        // a failed lookup is temporary, never "no such user" (DESIGN.md §1)
        return { envelopeId: env.id, action: 'delayed', status: '4.4.3', error: `directory lookup failed: ${describe(err)}` };
      }
    }
    const overQuota = await this.#quotaStatus(env, owner);
    if (overQuota) return overQuota;
    let body: Readable | undefined;
    let stream: Readable | undefined;
    try {
      body = await req.openMessage();
      const src = body;
      const headers = Buffer.from(deliveryHeaders(env), 'utf8');
      const junk = this.#opts.quarantineFolder;
      // never tried and taken from an acceptor's notice: no copy of it can be in new/ or cur/ (issue 19)
      const fresh = req.neverTried?.has(env.id) ? { freshKey: true } : {};
      // a message the spool holds in memory (nearly all: issue 19) is read at once and handed
      // over whole, with no stream or generator made for it
      const head = await readHead(src, WHOLE_LIMIT);
      if (!head.more) {
        const whole = Buffer.concat([headers, ...head.seen]);
        const quarantined = junk !== undefined && markRe.test(headerOf(whole.subarray(headers.length)));
        await mailboxes.deliver(user, whole, { uniqueKey: env.id, ...fresh, ...(quarantined ? { folder: junk } : {}) });
        return { envelopeId: env.id, action: 'delivered', status: '2.0.0' };
      }
      const quarantined = junk !== undefined && markRe.test(headerOf(Buffer.concat(head.seen)));
      stream = Readable.from(
        (async function* () {
          try {
            yield headers;
            yield* head.seen;
            for (let c = await nextChunk(src); c !== null; c = await nextChunk(src)) yield typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
          } finally {
            src.destroy();
          }
        })(),
        { objectMode: false },
      );
      // the store may give up without reading to the end; its error is the one reported
      stream.on('error', () => undefined);
      await mailboxes.deliver(user, stream, { uniqueKey: env.id, ...fresh, ...(quarantined ? { folder: junk } : {}) });
      return { envelopeId: env.id, action: 'delivered', status: '2.0.0' };
    } catch (err) {
      stream?.destroy();
      body?.destroy();
      return failure(env, err);
    }
  }

  /** The mailbox owner's record, looked up once per turn of the event loop (#owners). */
  #owner(directory: Pick<DirectoryLookup, 'findUser'>, user: string): Promise<User | undefined> {
    let found = this.#owners.get(user);
    if (found === undefined) {
      clearAfterTurn(this.#owners);
      found = directory.findUser(user);
      this.#owners.set(user, found);
    }
    return found;
  }

  /**
   * RFC 3463 X.2.2: a mailbox over its quota is "a persistent transient failure" (deferred: the
   * user may delete mail; the queue lifetime ends it with a DSN); a message larger than the quota
   * itself can never fit (failed now). The size counted is the envelope's (as queued, before the
   * delivery fields). A failed check delays with 4.3.0. `owner`, the user's record just read,
   * spares the gate a second look at the directory.
   */
  async #quotaStatus(env: Envelope, owner: User | undefined): Promise<DeliveryStatus | undefined> {
    const quota = this.#opts.quota;
    if (!quota) return undefined;
    try {
      const verdict = await quota.check(env.route.nextHop, env.size, 1, owner);
      if (verdict === 'full') return { envelopeId: env.id, action: 'delayed', status: '4.2.2', reply: replies.mailboxFull() };
      if (verdict === 'too-big') return { envelopeId: env.id, action: 'failed', status: '5.2.2', reply: replies.messageExceedsQuota() };
      return undefined;
    } catch (err) {
      return { envelopeId: env.id, action: 'delayed', status: '4.3.0', error: `quota check failed: ${describe(err)}` };
    }
  }
}

/** A message up to this size (as queued) is read whole and given to the store in one Buffer. */
const WHOLE_LIMIT = 128 * 1024;

/**
 * The first pieces of the message: the whole of it when it is no longer than `limit`, else
 * more than `limit` octets (so at least MARK_WINDOW, where the quarantine mark is looked for)
 * and `more`. A message held in memory is read with no wait (util's nextChunk).
 */
async function readHead(src: Readable, limit: number): Promise<{ seen: Buffer[]; more: boolean }> {
  const seen: Buffer[] = [];
  let size = 0;
  for (let c = await nextChunk(src); c !== null; c = await nextChunk(src)) {
    const b = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
    seen.push(b);
    size += b.length;
    if (size > limit) return { seen, more: true };
  }
  return { seen, more: false };
}

/** The header block at the start of `message` (at most MARK_WINDOW octets), where the quarantine mark is looked for. */
function headerOf(message: Buffer): string {
  const window = message.subarray(0, MARK_WINDOW);
  const end = window.indexOf('\r\n\r\n');
  return window.subarray(0, end < 0 ? window.length : end).toString('latin1');
}

function failure(env: Envelope, err: unknown): DeliveryStatus {
  if (err instanceof MailError) {
    const status: EnhancedStatus = err.reply.status ?? (err.temporary ? '4.3.0' : '5.0.0');
    // a mailbox path holding a symbolic link: the reply stays generic, the log names the path
    const detail = err.code === 'MAIL_ERR_UNSAFE_MAILBOX' ? { error: err.message } : {};
    return { envelopeId: env.id, action: err.temporary ? 'delayed' : 'failed', status, reply: err.reply, ...detail };
  }
  switch (errno(err)) {
    case 'ENOSPC':
    case 'EFBIG':
      return { envelopeId: env.id, action: 'delayed', status: '4.3.1', error: `mail system full: ${describe(err)}` };
    case 'EDQUOT':
      return { envelopeId: env.id, action: 'delayed', status: '4.2.2', error: `mailbox full: ${describe(err)}` };
    default:
      return { envelopeId: env.id, action: 'delayed', status: '4.3.0', error: `local delivery failed: ${describe(err)}` };
  }
}
