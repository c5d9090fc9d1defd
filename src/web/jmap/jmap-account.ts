/**
 * @module jmap-account
 * What every JMAP method of one request shares: the account (the authenticated user's own,
 * the only one offered), its mail view (loaded once per request, again after a change), and
 * the argument checks common to the standard methods (RFC 8620 §5: /get, /changes, /set, /query).
 * Standards: RFC 8620 §5.1 (ids null = all; properties), §5.2 (sinceState, maxChanges),
 *   §1.2 (ids: 1–255 of A-Z a-z 0-9 "-" "_").
 * Security: any accountId other than the user's own is accountNotFound: users never reach
 *   another user's mail.
 * Limitations: one account per user (no shared mailboxes).
 */
import type { MailFolderStore, MessageSubmitter, QuotaGate } from '../../core/index.js';
import type { BlobStore } from './blob-store.js';
import type { EmailSearch } from './email-search.js';
import { MethodError, type Args } from './jmap-protocol.js';
import type { AccountView, MailView } from './mail-view.js';
import { accountIdOf } from './mail-ids.js';

export { accountIdOf };

export const maxObjectsInGet = 500;
export const maxObjectsInSet = 500;


/** What JMAP works on, shared by every request. */
export interface JmapServices {
  readonly mailView: MailView;
  readonly blobs: BlobStore;
  readonly submitter: MessageSubmitter;
  /** the full-text index for text conditions; absent: every candidate message is read */
  readonly search?: EmailSearch;
  /** mailbox quotas: Email/set create and Email/import over them fail with overQuota */
  readonly quota?: QuotaGate;
}

export class AccountSession {
  readonly accountId: string;
  #view: Promise<AccountView> | undefined;

  constructor(
    readonly user: string,
    readonly services: JmapServices,
    /** the connection the request came on (EmailSubmission's Received field) */
    readonly client: { readonly ip: string; readonly secure: boolean } = { ip: '', secure: false },
  ) {
    this.accountId = accountIdOf(user);
  }

  get mailView(): MailView {
    return this.services.mailView;
  }

  get blobs(): BlobStore {
    return this.services.blobs;
  }

  get folders(): MailFolderStore {
    return this.mailView.folders;
  }

  /** The account's mail as of this request (loaded at first use). */
  view(): Promise<AccountView> {
    this.#view ??= this.mailView.load(this.user);
    return this.#view;
  }

  /** After a change: the next view() loads again. */
  changed(): void {
    this.#view = undefined;
  }

  /** RFC 8620 §3.6.2: the accountId argument must name this account. */
  check(args: Args): void {
    if (typeof args.accountId !== 'string') throw new MethodError('invalidArguments', 'accountId is required');
    if (args.accountId !== this.accountId) throw new MethodError('accountNotFound', `no account ${args.accountId} here`);
  }
}

/** The `ids` of a /get: null (all) or an array of strings, at most maxObjectsInGet. */
export function idsArg(args: Args, max = maxObjectsInGet): string[] | null {
  const ids = args.ids;
  if (ids === undefined || ids === null) return null;
  if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string')) throw new MethodError('invalidArguments', 'ids must be an array of ids or null');
  if (ids.length > max) throw new MethodError('requestTooLarge', `at most ${max} ids per call`);
  return ids;
}

/** The `properties` of a /get: the default set when absent; unknown ones are invalidArguments. */
export function propertiesArg(args: Args, name: string, known: readonly string[], dflt: readonly string[], also: (p: string) => boolean = () => false): string[] {
  const p = args[name];
  if (p === undefined || p === null) return [...dflt];
  if (!Array.isArray(p) || !p.every((x) => typeof x === 'string')) throw new MethodError('invalidArguments', `${name} must be an array of property names`);
  const bad = p.find((x) => !known.includes(x) && !also(x));
  if (bad !== undefined) throw new MethodError('invalidArguments', `unknown property ${bad}`);
  return p;
}

/** Picks the asked properties of an object (id always, RFC 8620 §5.1). */
export function pick(obj: Record<string, unknown>, props: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: obj.id };
  for (const p of props) if (p in obj) out[p] = obj[p];
  return out;
}

/** A /changes answer (RFC 8620 §5.2) from the view's changes, or cannotCalculateChanges. */
export function changesAnswer(
  accountId: string,
  args: Args,
  newState: string,
  changes: { created: string[]; updated: string[]; destroyed: string[] } | undefined,
  extra: Args = {},
): Args {
  if (typeof args.sinceState !== 'string') throw new MethodError('invalidArguments', 'sinceState is required');
  const max = args.maxChanges;
  if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 1)) throw new MethodError('invalidArguments', 'maxChanges must be a positive integer');
  if (args.sinceState === newState) return { accountId, oldState: newState, newState, hasMoreChanges: false, created: [], updated: [], destroyed: [], ...extra };
  if (!changes) throw new MethodError('cannotCalculateChanges', `state ${args.sinceState} is too old or unknown here: fetch everything again`);
  const total = changes.created.length + changes.updated.length + changes.destroyed.length;
  // all at once or not at all: a partial answer would need the intermediate states
  if (typeof max === 'number' && total > max) throw new MethodError('cannotCalculateChanges', `more than ${max} changes since ${args.sinceState}`);
  return { accountId, oldState: args.sinceState, newState, hasMoreChanges: false, ...changes, ...extra };
}
