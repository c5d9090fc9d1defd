/**
 * @module query-results
 * The results of an Email/query (RFC 8621 §4.4) over the account's view: candidates from the
 * full-text index when the filter has text conditions, the filter, the sort, collapseThreads —
 * remembered per view, so the next page of the same query costs a lookup. The common query of
 * a mail client (one Mailbox, newest first) takes the Mailbox's Emails as the view keeps them,
 * already in receivedAt order, and reverses them: no filter run, no sort.
 * Standards: RFC 8621 §4.4 (collapseThreads: an Email is left out when an earlier one in the
 *   results is in its Thread), §4.4.2 (sorting); RFC 8620 §5.6 (/queryChanges).
 * Security: the view is the account's own.
 * Limitations: results are remembered for the last 16 queries of a view (a view lives until
 *   the account's mail changes).
 */
import { MethodError, type Args } from './jmap-protocol.js';
import { compileFilter, compileSort, sortAsync } from './email-query.js';
import type { MessageCache } from './email-read.js';
import { requiredWords } from './email-search.js';
import type { AccountSession } from './jmap-account.js';
import type { AccountView, EmailRecord } from './mail-view.js';

const remembered = new WeakMap<AccountView, Map<string, readonly EmailRecord[]>>();
const maxRemembered = 16;

/** The Emails of the view matching a query's filter, in its sort order, collapsed to one per Thread if asked. */
export async function runQuery(account: AccountSession, view: AccountView, args: Args, cache: MessageCache): Promise<readonly EmailRecord[]> {
  if (args.collapseThreads !== undefined && typeof args.collapseThreads !== 'boolean') throw new MethodError('invalidArguments', 'collapseThreads must be a boolean');
  const key = JSON.stringify([args.filter ?? null, args.sort ?? null, args.collapseThreads === true]);
  let known = remembered.get(view);
  const hit = known?.get(key);
  if (hit) return hit;
  const results = await compute(account, view, args, cache);
  if (!known) remembered.set(view, (known = new Map()));
  if (known.size >= maxRemembered) known.delete(known.keys().next().value as string);
  known.set(key, results);
  return results;
}

async function compute(account: AccountSession, view: AccountView, args: Args, cache: MessageCache): Promise<readonly EmailRecord[]> {
  const match = compileFilter(args.filter, cache);
  const cmp = compileSort(args.sort, cache);
  const filter = args.filter as Args | undefined | null;
  // one Mailbox asked for at the top: start from its Emails (in the view's order)
  const inMailbox = filter && typeof filter === 'object' && !('operator' in filter) && typeof filter.inMailbox === 'string' ? filter.inMailbox : undefined;
  let pool: readonly EmailRecord[] = inMailbox !== undefined ? (view.byMailbox.get(inMailbox) ?? []) : view.emails;
  // strings every match must hold: the index gives the candidates, the filter decides
  const words = requiredWords(args.filter);
  const search = account.services.search;
  if (words.length > 0 && search) {
    const hits = await search.candidates(account.user, view.emails, account.folders, words);
    pool = pool.filter((e) => hits.has(e.id));
  }
  let found: readonly EmailRecord[];
  const onlyMailbox = inMailbox !== undefined && Object.keys(filter!).length === 1;
  if (onlyMailbox || filter === undefined || filter === null) found = pool;
  else if (match.sync) found = pool.filter(match.sync);
  else {
    const out: EmailRecord[] = [];
    for (const e of pool) if (await match(e)) out.push(e);
    found = out;
  }
  const sort = (args.sort ?? [{ property: 'receivedAt', isAscending: false }]) as Args[];
  let sorted: readonly EmailRecord[];
  if (Array.isArray(sort) && sort.length === 1 && sort[0].property === 'receivedAt') {
    // the view's order is receivedAt then id ascending, the sort's own tie-break (email-query.ts)
    sorted = sort[0].isAscending === false ? [...found].reverse() : found;
  } else sorted = cmp.sync ? [...found].sort(cmp.sync) : await sortAsync([...found], cmp);
  if (args.collapseThreads !== true) return sorted;
  const seen = new Set<string>();
  return sorted.filter((e) => !seen.has(e.threadId) && seen.add(e.threadId));
}

/**
 * RFC 8620 §5.6: every Email changed since the old state is removed, and those now in the
 * results added at their index. Unchanged Emails keep their sort keys (receivedAt, size and
 * the headers never change; a keyword change is an update), so their order is as before.
 */
export function queryChangesAnswer(accountId: string, args: Args, newQueryState: string, changes: { created: string[]; updated: string[]; destroyed: string[] }, sorted: readonly EmailRecord[]): Args {
  const touched = new Set([...changes.created, ...changes.updated]);
  const removed = [...changes.updated, ...changes.destroyed];
  const added: { id: string; index: number }[] = [];
  sorted.forEach((e, index) => {
    if (touched.has(e.id)) added.push({ id: e.id, index });
  });
  const max = args.maxChanges;
  if (typeof max === 'number' && removed.length + added.length > max) throw new MethodError('tooManyChanges', `more than ${max} changes since ${String(args.sinceQueryState)}`);
  return { accountId, oldQueryState: args.sinceQueryState, newQueryState, removed, added, ...(args.calculateTotal === true && { total: sorted.length }) };
}
