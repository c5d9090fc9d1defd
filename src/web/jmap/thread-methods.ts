/**
 * @module thread-methods
 * Thread/get and Thread/changes (RFC 8621 §3) over the account's view: a Thread is the Emails
 * the conversation index (email-search.ts, core MailThreadIndex) put together from their
 * Message-ID, In-Reply-To and References, in every Mailbox, oldest first.
 * Standards: RFC 8621 §3.1 (Thread/get: emailIds sorted by receivedAt), §3.2 (Thread/changes),
 *   RFC 8620 §5.1, §5.2.
 * Security: every id is looked up in the account's own view.
 * Limitations: Thread/changes is worked out from Email/changes: the Threads of Emails created,
 *   changed or destroyed since the state (a Thread whose Emails are all new is created, one
 *   with none left destroyed); two Threads joined by a new message show as the survivor
 *   updated and the other destroyed only when the other's Emails changed too.
 */
import { AccountSession, changesAnswer, idsArg } from './jmap-account.js';
import { capabilityUris, type JmapMethod } from './jmap-protocol.js';
import type { AccountView } from './mail-view.js';

/** The Threads touched by Email changes: created (every Email new), updated, destroyed (no Email left). */
export async function threadChanges(account: AccountSession, view: AccountView, c: { created: string[]; updated: string[]; destroyed: string[] }): Promise<{ created: string[]; updated: string[]; destroyed: string[] }> {
  const created = new Set(c.created);
  const touched = new Set<string>();
  for (const id of [...c.created, ...c.updated]) {
    const e = view.emailById.get(id);
    if (e) touched.add(e.threadId);
  }
  const gone = (await account.services.search?.goneThreads(account.user, c.destroyed)) ?? new Map<string, string>();
  const destroyed = new Set<string>();
  for (const id of c.destroyed) {
    const t = gone.get(id) ?? `t${id.slice(1)}`;
    if (view.byThread.has(t)) touched.add(t);
    else destroyed.add(t);
  }
  const out = { created: [] as string[], updated: [] as string[], destroyed: [...destroyed] };
  for (const t of touched) (view.byThread.get(t)?.every((e) => created.has(e.id)) ? out.created : out.updated).push(t);
  return out;
}

export function threadMethods(account: AccountSession): [string, JmapMethod][] {
  const cap = capabilityUris.mail;
  return [
    [
      'Thread/get',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const ids = idsArg(args) ?? [...view.byThread.keys()];
          const list = ids.flatMap((id) => {
            const emails = view.byThread.get(id);
            return emails ? [{ id, emailIds: emails.map((e) => e.id) }] : [];
          });
          return { accountId: account.accountId, state: view.emailState, list, notFound: ids.filter((id) => !view.byThread.has(id)) };
        },
      },
    ],
    [
      'Thread/changes',
      {
        capability: cap,
        run: async (args) => {
          account.check(args);
          const view = await account.view();
          const c = typeof args.sinceState === 'string' && args.sinceState !== view.emailState ? await account.mailView.emailChanges(account.user, view, args.sinceState) : undefined;
          return changesAnswer(account.accountId, args, view.emailState, c && (await threadChanges(account, view, c)));
        },
      },
    ],
  ];
}
