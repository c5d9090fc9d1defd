/**
 * @module email-methods
 * Email/get, Email/changes, Email/query, Email/queryChanges, Email/set (keywords, moves,
 * destroy) and SearchSnippet/get (RFC 8621 §4, §5; Threads: thread-methods.ts) over the
 * account's folders; a change made here is what IMAP sees (the same Maildir flags and files),
 * and the other way round.
 * Standards: RFC 8621 §4.2–§4.6, §5.1 (SearchSnippet/get); RFC 8620 §5.3
 *   (/set: patches with "/" paths, ifInState, SetErrors), §5.6 (/queryChanges).
 * Security: every id is looked up in the account's own view; other users' mail has no id here.
 * Email/set create and Email/import are in email-create.ts.
 * Limitations: one mailbox per Email (maxMailboxesPerEmail 1: a Maildir file lives in one
 *   folder); a move keeps the Email's id and blobId (mail-view: EmailAliases); Email/queryChanges ignores
 *   upToId and answers every change since the old state.
 */
import { AccountSession, changesAnswer, idsArg, propertiesArg, maxObjectsInSet } from './jmap-account.js';
import { MethodError, capabilityUris, type Args, type JmapMethod } from './jmap-protocol.js';
import { queryChangesAnswer, runQuery } from './query-results.js';
import { threadChanges, threadMethods } from './thread-methods.js';
import { MessageCache, defaultEmailProperties, emailObject, emailProperties, getOptions, plainText } from './email-read.js';
import { asText } from './email-parse.js';
import { findHeader } from '../../protocol/mime/index.js';
import type { EmailRecord } from './mail-view.js';
import { badKeyword, keywordsOf, messageSuffix, splitKeywords } from './mail-ids.js';
import { createEmails, importEmails } from './email-create.js';

const isHeaderProperty = (p: string): boolean => /^header:[^:]+(:as(Raw|Text|Addresses|MessageIds|Date))?(:all)?$/i.test(p);

export function emailMethods(account: AccountSession): [string, JmapMethod][] {
  const cap = capabilityUris.mail;
  const cache = new MessageCache(account);
  return [
    [
      'Email/get',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const ids = idsArg(args);
          if (ids === null) throw new MethodError('requestTooLarge', 'Email/get needs ids (use Email/query to find them)');
          const opts = getOptions(args, propertiesArg(args, 'properties', emailProperties, defaultEmailProperties, isHeaderProperty));
          // the messages are read at once (a page of 50 is 50 files), answered in the order asked
          const found = ids.flatMap((id) => view.emailById.get(id) ?? []);
          const list = await Promise.all(found.map((e) => emailObject(e, opts, cache)));
          const notFound = ids.filter((id) => !view.emailById.has(id));
          return { accountId: account.accountId, state: view.emailState, list, notFound };
        },
      },
    ],
    [
      'Email/changes',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const changes = typeof args.sinceState === 'string' ? await account.mailView.emailChanges(account.user, view, args.sinceState) : undefined;
          return changesAnswer(account.accountId, args, view.emailState, changes);
        },
      },
    ],
    [
      'Email/query',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const sorted = await runQuery(account, view, args, cache);
          let position = typeof args.position === 'number' && Number.isInteger(args.position) ? args.position : 0;
          if (typeof args.anchor === 'string') {
            const at = sorted.findIndex((e) => e.id === args.anchor);
            if (at < 0) throw new MethodError('anchorNotFound', `${args.anchor} is not in the results`);
            position = Math.max(0, at + (typeof args.anchorOffset === 'number' ? args.anchorOffset : 0));
          } else if (position < 0) position = Math.max(0, sorted.length + position);
          const limit = args.limit;
          if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) throw new MethodError('invalidArguments', 'limit must be an unsigned integer');
          const page = sorted.slice(position, typeof limit === 'number' ? position + limit : undefined);
          return {
            accountId: account.accountId,
            queryState: view.emailState,
            canCalculateChanges: true,
            position,
            ids: page.map((e) => e.id),
            collapseThreads: args.collapseThreads === true,
            ...(args.calculateTotal === true && { total: sorted.length }),
            ...(typeof limit === 'number' && { limit }),
          };
        },
      },
    ],
    [
      'Email/queryChanges',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          if (typeof args.sinceQueryState !== 'string') throw new MethodError('invalidArguments', 'sinceQueryState is required');
          const view = await account.view();
          const changes = await account.mailView.emailChanges(account.user, view, args.sinceQueryState);
          if (!changes) throw new MethodError('cannotCalculateChanges', `query state ${args.sinceQueryState} is not one of ours: run Email/query again`);
          const sorted = await runQuery(account, view, args, cache);
          if (args.collapseThreads === true) {
            // which Email stands for a Thread may change with any of its Emails: every Email of a touched Thread is redone
            const t = await threadChanges(account, view, changes);
            const more = [...t.created, ...t.updated].flatMap((id) => (view.byThread.get(id) ?? []).map((e) => e.id));
            return queryChangesAnswer(account.accountId, args, view.emailState, { ...changes, updated: [...new Set([...changes.updated, ...more.filter((id) => !changes.created.includes(id))])] }, sorted);
          }
          return queryChangesAnswer(account.accountId, args, view.emailState, changes, sorted);
        },
      },
    ],
    ['Email/set', { capability: cap, run: (args, ctx) => setEmails(account, args, ctx.createdIds) }],
    ...threadMethods(account),
    [
      'Email/import',
      {
        capability: cap,
        run: async (args, ctx) => {
          account.check(args);
          const before = await account.view();
          if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== before.emailState) throw new MethodError('stateMismatch', `the email state is ${before.emailState}`);
          const emails = (args.emails ?? {}) as Record<string, Args>;
          if (Object.keys(emails).length > maxObjectsInSet) throw new MethodError('requestTooLarge', `at most ${maxObjectsInSet} emails per Email/import`);
          const { created, notCreated } = await importEmails(account, emails, ctx.createdIds);
          account.changed();
          const after = await account.view();
          return { accountId: account.accountId, oldState: before.emailState, newState: after.emailState, created: Object.keys(created).length ? created : null, notCreated: Object.keys(notCreated).length ? notCreated : null };
        },
      },
    ],
    [
      'SearchSnippet/get',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const ids = idsArg({ ids: args.emailIds }) ?? [];
          const filter = (args.filter ?? {}) as Args;
          const words = [filter.text, filter.subject, filter.body].filter((w): w is string => typeof w === 'string' && w !== '');
          const list: Args[] = [];
          const notFound: string[] = [];
          for (const id of ids) {
            const e = view.emailById.get(id);
            if (!e) {
              notFound.push(id);
              continue;
            }
            const { parsed } = await cache.load(e);
            list.push({ emailId: id, subject: highlight(asText(findHeader(parsed.fields, 'subject')) ?? '', words, false), preview: highlight(plainText(parsed).replace(/\s+/g, ' '), words, true) });
          }
          return { accountId: account.accountId, list, notFound: notFound.length ? notFound : null };
        },
      },
    ],
  ];
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** RFC 8621 §5.1: HTML-escaped text with the matches in <mark>; a preview is cut around the first match. */
export function highlight(text: string, words: readonly string[], excerpt: boolean): string | null {
  const lower = text.toLowerCase();
  const hits = words.map((w) => w.toLowerCase()).filter((w) => lower.includes(w));
  if (hits.length === 0) return null;
  let from = 0;
  if (excerpt) {
    from = Math.max(0, lower.indexOf(hits[0]) - 60);
    text = text.slice(from, from + 255);
  }
  let out = '';
  let i = 0;
  const l = text.toLowerCase();
  while (i < text.length) {
    const w = hits.find((h) => l.startsWith(h, i));
    if (w) {
      out += `<mark>${escapeHtml(text.slice(i, i + w.length))}</mark>`;
      i += w.length;
    } else out += escapeHtml(text[i++]);
  }
  return out;
}

/** Applies a PatchObject (RFC 8620 §5.3) to keywords and mailboxIds. */
function applyPatch(e: EmailRecord, patch: Args): { keywords: Record<string, unknown>; mailboxIds: Record<string, unknown> } | { bad: string[] } {
  let keywords: Record<string, unknown> = keywordsOf(e.flags, e.keywords);
  let mailboxIds: Record<string, unknown> = { [e.mailboxId]: true };
  const bad: string[] = [];
  for (const [path, value] of Object.entries(patch)) {
    if (path === 'keywords' && typeof value === 'object' && value !== null) keywords = { ...(value as Args) };
    else if (path === 'mailboxIds' && typeof value === 'object' && value !== null) mailboxIds = { ...(value as Args) };
    else if (path.startsWith('keywords/') && (value === true || value === null)) {
      const k = path.slice(9).toLowerCase();
      if (value === true) keywords[k] = true;
      else delete keywords[k];
    } else if (path.startsWith('mailboxIds/') && (value === true || value === null)) {
      const k = path.slice(11);
      if (value === true) mailboxIds[k] = true;
      else delete mailboxIds[k];
    } else bad.push(path.split('/')[0]);
  }
  return bad.length ? { bad } : { keywords, mailboxIds };
}

async function setEmails(account: AccountSession, args: Args, createdIds: Map<string, string>): Promise<Args> {
  account.check(args);
  const before = await account.view();
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== before.emailState) throw new MethodError('stateMismatch', `the email state is ${before.emailState}`);
  const update = (args.update ?? {}) as Record<string, Args>;
  const destroy = (args.destroy ?? []) as string[];
  const create = (args.create ?? {}) as Record<string, Args>;
  if (Object.keys(update).length + destroy.length + Object.keys(create).length > maxObjectsInSet) throw new MethodError('requestTooLarge', `at most ${maxObjectsInSet} objects per Email/set`);
  const { user, folders } = account;
  const resolve = (id: string): string => (id.startsWith('#') ? (createdIds.get(id.slice(1)) ?? id) : id);
  // RFC 8620 §5.3: creations first, then updates, then destructions
  const { created, notCreated } = await createEmails(account, create, createdIds);
  const updated: Args = {};
  const notUpdated: Args = {};
  const current = Object.keys(created).length ? await account.view() : before;
  for (const [rawId, patch] of Object.entries(update)) {
    const id = resolve(rawId);
    const e = current.emailById.get(id);
    if (!e) {
      notUpdated[id] = { type: 'notFound', description: `no email ${id}` };
      continue;
    }
    const next = applyPatch(e, patch);
    if ('bad' in next) {
      notUpdated[id] = { type: 'invalidProperties', description: 'only keywords and mailboxIds can change', properties: next.bad };
      continue;
    }
    const bad = badKeyword(next.keywords);
    if (bad !== undefined) {
      notUpdated[id] = { type: 'invalidProperties', description: `"${bad.slice(0, 40)}" is not a keyword (RFC 8621 §4.1.1)`, properties: ['keywords'] };
      continue;
    }
    const targets = Object.keys(next.mailboxIds).map(resolve);
    const target = targets.length === 1 ? current.mailboxById.get(targets[0]) : undefined;
    if (targets.length !== 1 || !target) {
      notUpdated[id] = { type: targets.length > 1 ? 'tooManyMailboxes' : 'invalidProperties', description: 'an email is in exactly one existing mailbox here', properties: ['mailboxIds'] };
      continue;
    }
    // what is added and what removed, apart: other letters (T, IMAP's \Deleted) stay as they are
    const want = splitKeywords(next.keywords);
    const had = splitKeywords(keywordsOf(e.flags, e.keywords));
    const add = { flags: [...want.letters].filter((f) => !had.letters.includes(f)).join(''), keywords: want.keywords.filter((k) => !had.keywords.includes(k)) };
    const drop = { flags: [...had.letters].filter((f) => !want.letters.includes(f)).join(''), keywords: had.keywords.filter((k) => !want.keywords.includes(k)) };
    if (add.flags || add.keywords.length) await folders.updateFlags(user, e.folder, [e.uid], { mode: 'add', ...add });
    if (drop.flags || drop.keywords.length) await folders.updateFlags(user, e.folder, [e.uid], { mode: 'remove', ...drop });
    if (target.id !== e.mailboxId) {
      // a move (atomic where the store can; else the copy keeps the flags and the date, then the original goes);
      // the Email keeps its id at its new place (RFC 8621 §4.1.1: immutable)
      let placed: { uidValidity: number; uids: number[] };
      if (folders.move) placed = await folders.move(user, e.folder, [e.key], target.folder);
      else {
        placed = await folders.copy(user, e.folder, [e.key], target.folder);
        await folders.remove(user, e.folder, e.key);
      }
      if (placed.uids.length === 1) await account.mailView.moved(user, [[`e${messageSuffix(target.tag, placed.uidValidity, placed.uids[0])}`, e.id]]);
    }
    updated[id] = null;
  }
  const destroyed: string[] = [];
  const notDestroyed: Args = {};
  for (const rawId of destroy) {
    const id = resolve(rawId);
    const e = current.emailById.get(id);
    if (!e) notDestroyed[id] = { type: 'notFound', description: `no email ${id}` };
    else {
      await folders.remove(user, e.folder, e.key);
      destroyed.push(id);
    }
  }
  account.changed();
  const after = await account.view();
  const orNull = (o: Args): Args | null => (Object.keys(o).length ? o : null);
  return {
    accountId: account.accountId,
    oldState: before.emailState,
    newState: after.emailState,
    created: orNull(created),
    updated: orNull(updated),
    destroyed: destroyed.length ? destroyed : null,
    notCreated: orNull(notCreated),
    notUpdated: orNull(notUpdated),
    notDestroyed: orNull(notDestroyed),
  };
}
