/**
 * @module public-socket
 * What a running server answers to every local user on `<data_dir>/public.sock` (mode 0666 in
 * the searchable data directory): the queue listing (`mailq`, `sendmail -bp`) and whether
 * addresses are deliverable (`sendmail -bv`), for users who may not read the spool or the
 * directory themselves. Submission itself goes through the maildrop (maildrop.ts).
 * Standards: none (the control socket's framing: one JSON request, one JSON response).
 * Security: read-only questions only. The listing is the whole queue, as Postfix's showq gives
 *   any user by default (`authorized_mailq_users = static:anyone`); a verification says only
 *   deliverable or not (with the refusal's reply), never where an alias leads. At most
 *   MAX_LISTED messages and MAX_VERIFIED addresses a request.
 * Limitations: with the server down, non-owners cannot list the queue (Postfix's mailq also
 *   needs its showq service) and verify only if they may read the directory; callers cannot be told apart (Node has no SO_PEERCRED), so
 *   nothing here is per user.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { formatReply, type QueueStore, type Resolver, type SmtpReply } from '../core/index.js';
import { listQueuePage, type QueuedMessage } from '../queue/index.js';
import { parseRecipientArgument } from '../resolve/index.js';
import { askSocket, startSocketServer } from './control.js';

export const MAX_LISTED = 1000;
export const MAX_VERIFIED = 100;

export type PublicRequest = { op: 'mailq'; limit?: number; after?: string } | { op: 'verify'; addresses: string[] };

export interface Verdict {
  readonly address: string;
  readonly deliverable: boolean;
  /** the refusal, for an address that is not deliverable */
  readonly reply?: string;
  /** the same refusal as a reply (`sendmail -bs` gives it at RCPT) */
  readonly smtp?: SmtpReply;
}

export interface PublicResponse {
  ok: boolean;
  error?: string;
  messages?: QueuedMessage[];
  /** the --since of the next page, when more messages follow the listing's last */
  next?: string;
  verdicts?: Verdict[];
}

export function publicSocketPath(config: Config): string {
  return join(config.dataDir, 'public.sock');
}

/**
 * Whether each address is deliverable through `resolver`: the server's answer on public.sock,
 * and the CLI's own when it may read the directory while the server is down. A temporary
 * failure of the resolver throws.
 */
export async function verifyAddresses(resolver: Resolver, addresses: readonly string[]): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  for (const address of addresses) {
    const targets = await resolver.resolve(parseRecipientArgument(address), { sender: null });
    const refusal = targets.find((t) => t.kind === 'error');
    const deliverable = targets.some((t) => t.kind !== 'error');
    verdicts.push({ address, deliverable, ...(!deliverable && refusal?.kind === 'error' && { reply: formatReply(refusal.reply), smtp: refusal.reply }) });
  }
  return verdicts;
}

/** The server's answers, over its store and resolver. */
export function publicHandler(store: () => QueueStore, resolver: () => Resolver): (req: PublicRequest) => Promise<PublicResponse> {
  return async (req) => {
    if (req.op === 'mailq') {
      const limit = Math.min(MAX_LISTED, Math.max(1, Number.isInteger(req.limit) ? (req.limit as number) : MAX_LISTED));
      const page = await listQueuePage(store(), { limit, ...(typeof req.after === 'string' && { after: req.after }) });
      return { ok: true, messages: page.messages, ...(page.next !== undefined && { next: page.next }) };
    }
    if (req.op === 'verify' && Array.isArray(req.addresses) && req.addresses.length <= MAX_VERIFIED && req.addresses.every((a) => typeof a === 'string')) {
      try {
        return { ok: true, verdicts: await verifyAddresses(resolver(), req.addresses) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { ok: false, error: 'unknown request' };
  };
}

export function startPublicServer(config: Config, handle: (req: PublicRequest) => Promise<PublicResponse>): Promise<{ close(): Promise<void> }> {
  return startSocketServer(publicSocketPath(config), handle, 0o666);
}

/** Asks the running server; undefined when none answers. */
export function askPublic(config: Config, req: PublicRequest): Promise<PublicResponse | undefined> {
  return askSocket<PublicRequest, PublicResponse>(publicSocketPath(config), req);
}
