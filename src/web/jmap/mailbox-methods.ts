/**
 * @module mailbox-methods
 * Mailbox/get, Mailbox/changes, Mailbox/query, Mailbox/set (RFC 8621 §2) on the account's
 * folders, the same ones IMAP lists.
 * Standards: RFC 8621 §2.1 (properties, myRights), §2.2–§2.5; RFC 8620 §5.1–§5.5.
 * Security: names pass the folder store's checks before they become paths.
 * Limitations: renaming or moving a mailbox through JMAP is refused (its id is made from its
 *   name; rename it over IMAP); sortOrder is 0 for all but the Inbox; Mailbox/queryChanges is
 *   cannotCalculateChanges.
 */
import { MailFolderError } from '../../core/index.js';
import { AccountSession, changesAnswer, idsArg, pick, propertiesArg } from './jmap-account.js';
import { MethodError, capabilityUris, type Args, type JmapMethod } from './jmap-protocol.js';
import { folderOfMailboxId, mailboxIdOf, type MailboxRecord } from './mail-view.js';

const properties = ['id', 'name', 'parentId', 'role', 'sortOrder', 'totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads', 'myRights', 'isSubscribed'];

function toJson(m: MailboxRecord): Record<string, unknown> {
  const isInbox = m.role === 'inbox';
  return {
    id: m.id,
    name: m.name,
    parentId: m.parentId,
    role: m.role,
    sortOrder: isInbox ? 0 : 10,
    totalEmails: m.totalEmails,
    unreadEmails: m.unreadEmails,
    // one Email per Thread here
    totalThreads: m.totalEmails,
    unreadThreads: m.unreadEmails,
    myRights: { mayReadItems: true, mayAddItems: true, mayRemoveItems: true, maySetSeen: true, maySetKeywords: true, mayCreateChild: true, mayRename: false, mayDelete: !isInbox, maySubmit: true },
    isSubscribed: m.isSubscribed,
  };
}

function setError(type: string, description: string, extra: Args = {}): Args {
  return { type, description, ...extra };
}

export function mailboxMethods(account: AccountSession): [string, JmapMethod][] {
  const cap = capabilityUris.mail;
  return [
    [
      'Mailbox/get',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const ids = idsArg(args);
          const props = propertiesArg(args, 'properties', properties, properties);
          const view = await account.view();
          const list = (ids ?? view.mailboxes.map((m) => m.id)).flatMap((id) => {
            const m = view.mailboxById.get(id);
            return m ? [pick(toJson(m), props)] : [];
          });
          const notFound = (ids ?? []).filter((id) => !view.mailboxById.has(id));
          return { accountId: account.accountId, state: view.mailboxState, list, notFound };
        },
      },
    ],
    [
      'Mailbox/changes',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const changes = typeof args.sinceState === 'string' ? account.mailView.mailboxChanges(view, args.sinceState) : undefined;
          // RFC 8621 §2.2: only counts changed → updatedProperties lists them
          return changesAnswer(account.accountId, args, view.mailboxState, changes, { updatedProperties: null });
        },
      },
    ],
    [
      'Mailbox/query',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const filter = (args.filter ?? {}) as Args;
          let list = [...view.mailboxes];
          if (filter.parentId !== undefined) list = list.filter((m) => m.parentId === filter.parentId);
          if (typeof filter.name === 'string') list = list.filter((m) => m.name.toLowerCase().includes((filter.name as string).toLowerCase()));
          if (filter.role !== undefined) list = list.filter((m) => m.role === filter.role);
          if (typeof filter.hasAnyRole === 'boolean') list = list.filter((m) => (m.role !== null) === filter.hasAnyRole);
          if (typeof filter.isSubscribed === 'boolean') list = list.filter((m) => m.isSubscribed === filter.isSubscribed);
          const ids = list.map((m) => m.id);
          return { accountId: account.accountId, queryState: view.mailboxState, canCalculateChanges: false, position: 0, ids, total: ids.length };
        },
      },
    ],
    [
      'Mailbox/queryChanges',
      {
        capability: cap,
        run: (args) => {
          account.check(args);
          return Promise.reject(new MethodError('cannotCalculateChanges', 'query again'));
        },
      },
    ],
    ['Mailbox/set', { capability: cap, run: (args, ctx) => setMailboxes(account, args, ctx.createdIds) }],
  ];
}

async function setMailboxes(account: AccountSession, args: Args, createdIds: Map<string, string>): Promise<Args> {
  account.check(args);
  const before = await account.view();
  if (args.ifInState !== undefined && args.ifInState !== null && args.ifInState !== before.mailboxState) throw new MethodError('stateMismatch', `the mailbox state is ${before.mailboxState}`);
  const out: Args = { accountId: account.accountId, oldState: before.mailboxState, created: null, updated: null, destroyed: null, notCreated: null, notUpdated: null, notDestroyed: null };
  const created: Args = {};
  const notCreated: Args = {};
  const user = account.user;
  const folders = account.folders;
  const folderOf = (id: string): string | undefined => folderOfMailboxId(id.startsWith('#') ? (createdIds.get(id.slice(1)) ?? '') : id);
  for (const [cid, raw] of Object.entries((args.create ?? {}) as Record<string, Args>)) {
    const name = raw.name;
    if (typeof name !== 'string' || name === '') {
      notCreated[cid] = setError('invalidProperties', 'name is required', { properties: ['name'] });
      continue;
    }
    const parentId = typeof raw.parentId === 'string' ? raw.parentId : undefined;
    const parent = parentId === undefined ? undefined : folderOf(parentId);
    if (raw.parentId !== undefined && raw.parentId !== null && (parent === undefined || !before.mailboxById.has(parentId!))) {
      notCreated[cid] = setError('invalidProperties', 'no such parent mailbox', { properties: ['parentId'] });
      continue;
    }
    if (name.includes(folders.delimiter)) {
      notCreated[cid] = setError('invalidProperties', `a name may not contain "${folders.delimiter}"`, { properties: ['name'] });
      continue;
    }
    const folder = parent === undefined || parent === 'INBOX' ? name : `${parent}${folders.delimiter}${name}`;
    try {
      await folders.createFolder(user, folder);
      if (raw.isSubscribed !== false) await folders.setSubscribed(user, folder, true);
      const id = mailboxIdOf(folder);
      createdIds.set(cid, id);
      created[cid] = { id };
    } catch (e) {
      if (!(e instanceof MailFolderError)) throw e;
      notCreated[cid] = setError(e.kind === 'exists' ? 'invalidProperties' : 'invalidProperties', e.message, { properties: ['name'] });
    }
  }
  const updated: Args = {};
  const notUpdated: Args = {};
  for (const [id, patch] of Object.entries((args.update ?? {}) as Record<string, Args>)) {
    const m = before.mailboxById.get(id);
    if (!m) {
      notUpdated[id] = setError('notFound', `no mailbox ${id}`);
      continue;
    }
    const keys = Object.keys(patch);
    const renames = keys.filter((k) => (k === 'name' && patch.name !== m.name) || (k === 'parentId' && patch.parentId !== m.parentId));
    if (renames.length > 0) {
      notUpdated[id] = setError('forbidden', 'renaming or moving a mailbox is not supported over JMAP here (use IMAP RENAME)', { properties: renames });
      continue;
    }
    const bad = keys.filter((k) => !['name', 'parentId', 'isSubscribed', 'sortOrder'].includes(k));
    if (bad.length > 0) {
      notUpdated[id] = setError('invalidProperties', 'read-only or unknown properties', { properties: bad });
      continue;
    }
    if (typeof patch.isSubscribed === 'boolean') await folders.setSubscribed(user, m.folder, patch.isSubscribed);
    updated[id] = null;
  }
  const destroyed: string[] = [];
  const notDestroyed: Args = {};
  const removeEmails = args.onDestroyRemoveEmails === true;
  for (const id of (args.destroy ?? []) as string[]) {
    const m = before.mailboxById.get(id);
    if (!m) notDestroyed[id] = setError('notFound', `no mailbox ${id}`);
    else if (m.role === 'inbox') notDestroyed[id] = setError('forbidden', 'the Inbox cannot be destroyed');
    else if (before.mailboxes.some((c) => c.parentId === id)) notDestroyed[id] = setError('mailboxHasChild', 'destroy its child mailboxes first');
    else if (m.totalEmails > 0 && !removeEmails) notDestroyed[id] = setError('mailboxHasEmail', 'it holds emails (set onDestroyRemoveEmails to remove them)');
    else {
      await folders.deleteFolder(user, m.folder);
      destroyed.push(id);
    }
  }
  account.changed();
  const after = await account.view();
  return {
    ...out,
    newState: after.mailboxState,
    created: Object.keys(created).length ? created : null,
    updated: Object.keys(updated).length ? updated : null,
    destroyed: destroyed.length ? destroyed : null,
    notCreated: Object.keys(notCreated).length ? notCreated : null,
    notUpdated: Object.keys(notUpdated).length ? notUpdated : null,
    notDestroyed: Object.keys(notDestroyed).length ? notDestroyed : null,
  };
}
