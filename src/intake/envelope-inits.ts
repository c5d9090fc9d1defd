/**
 * @module envelope-inits
 * The envelopes intake makes of a transaction's recipients before the message is committed:
 * one per distinct target (its route and recipient address), a loop error for a recipient the
 * message has already been delivered for here, and the Delivered-To fields of the recipients
 * an alias forwards. The intake service (intake-service.ts) commits them with the message.
 * Standards: RFC 5321 §3.9 (aliases and lists: many recipients may end in one mailbox),
 *   §6.3 (loops: Delivered-To naming a recipient); RFC 7208 §1.2.3 (SRS reverse-path on mail
 *   forwarded off site); RFC 3461 §4 (DSN parameters carried per envelope).
 * Security: the Delivered-To check sees only the addresses this site added itself.
 * Limitations: none.
 */
import {
  addressToString,
  replies,
  targetRoute,
  type AcceptedRecipient,
  type Address,
  type EnvelopeInit,
  type IntakeTransaction,
  type ResolvedRecipient,
  type SenderRewriter,
} from '../core/index.js';

/** What a transaction's recipients make before the message is committed. */
export interface RecipientEnvelopes {
  /** one per target; undefined for a target that repeats an earlier one (many-to-one) */
  readonly envelopes: (EnvelopeInit | undefined)[];
  /** the index in tx.recipients of each entry of `envelopes` */
  readonly owners: number[];
  /** the Delivered-To fields of forwarded recipients, to which intake adds its other fields */
  readonly prepend: string[];
  /** recipients the message has been delivered for here before (a loop each) */
  readonly loops: number;
}

/**
 * The envelopes of `tx`'s recipients; `deliveredTo` holds the message's Delivered-To addresses
 * (lower-cased), `srs` rewrites the reverse-path of mail an alias sends off site.
 */
export function envelopesFor(
  tx: IntakeTransaction,
  deliveredTo: ReadonlySet<string> | undefined,
  now: number,
  srs: SenderRewriter | undefined,
): RecipientEnvelopes {
  const envelopes: (EnvelopeInit | undefined)[] = [];
  const owners: number[] = [];
  const prepend: string[] = [];
  const seen = new Set<string>();
  let loops = 0;
  for (const [i, r] of tx.recipients.entries()) {
    // A Delivered-To naming this recipient means the message has been here for it before.
    if (deliveredTo?.has(addressToString(r.address).toLowerCase())) {
      loops++;
      envelopes.push(envelope(tx, r, errorTarget(r, replies.mailLoop()), now, seen, srs));
      owners.push(i);
      continue;
    }
    let forwarded = false;
    for (const t of r.targets) {
      if (t.kind === 'remote' || t.kind === 'list') forwarded = forwarded || t.via.length > 0;
      envelopes.push(envelope(tx, r, t, now, seen, srs));
      owners.push(i);
    }
    if (forwarded) prepend.push(`Delivered-To: ${addressToString(r.address)}`);
  }
  return { envelopes, owners, prepend, loops };
}

function envelope(
  tx: IntakeTransaction,
  r: AcceptedRecipient,
  t: ResolvedRecipient,
  now: number,
  seen: Set<string>,
  srs: SenderRewriter | undefined,
): EnvelopeInit | undefined {
  const route = targetRoute(t);
  const recipient = envelopeRecipient(t, r.address);
  const key = `${route.transport}\0${route.nextHop}\0${addressToString(recipient).toLowerCase()}`;
  // Many-to-one: two recipients that end in the same mailbox make one envelope.
  if (seen.has(key)) return undefined;
  seen.add(key);
  // RFC 7208 §1.2.3: mail an alias sends on to another site leaves with our SRS reverse-path,
  // so the next hop's SPF check is of our domain; a null sender stays null (RFC 5321 §4.5.5)
  const rewrite = t.kind === 'remote' && t.via.length > 0 ? srs : undefined;
  return {
    sender: rewrite && tx.sender ? rewrite.forward(tx.sender) : tx.sender,
    recipient,
    originalRecipient: r.address,
    route,
    arrivedAt: now,
    size: 0,
    nextAttemptAt: 0,
    dsn: { ...r.dsn, ...(tx.mail.ret ? { ret: tx.mail.ret } : {}), ...(tx.mail.envid ? { envid: tx.mail.envid } : {}) },
    smtpUtf8: tx.mail.smtpUtf8 ?? false,
    resolvedVia: t.via,
    // stated from the start (envelope-transitions.ts): the scheduler then files the committed
    // envelope itself, where withState made a copy of each that the queue kept beside the cache's
    state: 'queued',
  };
}

function errorTarget(r: AcceptedRecipient, reply: ReturnType<typeof replies.mailLoop>): ResolvedRecipient {
  return { kind: 'error', reply, original: r.address, via: [] };
}

/**
 * The envelope recipient for one resolved target (its route is core's targetRoute): the
 * mailbox address keeps a +tag for Delivered-To; a list is addressed as itself; pipe, file and
 * error targets keep the address the client gave.
 */
function envelopeRecipient(t: ResolvedRecipient, rcpt: Address): Address {
  switch (t.kind) {
    case 'mailbox':
    case 'remote':
      return t.address;
    case 'list': {
      const at = t.list.lastIndexOf('@');
      return { local: t.list.slice(0, at), domain: t.list.slice(at + 1) };
    }
    default:
      return rcpt;
  }
}
