/**
 * @module mail-app
 * The webmail once logged in: folders with unread counts, one page of the chosen folder's
 * conversations (or of a search's messages, with highlighted snippets), the open message and
 * its conversation, the composer; actions (move,
 * flag, delete to Trash, archive, mark read/unread) and keyboard shortcuts; new mail shows
 * without a reload (JMAP push). On a narrow screen one pane shows at a time.
 * Standards: RFC 8621 (through mail-api), RFC 8620 §7.3 (push).
 * Security: all text from messages is rendered as text (Preact escapes it); the body is in a
 *   sandboxed frame (message-view).
 * Limitations: one selected message at a time.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JmapClient } from './jmap-client.js';
import { MailApi, type FullEmail, type ListItem, type Mailbox } from './mail-api.js';
import { useListPages } from './list-pages.js';
import { draftFor, type ComposeKind } from './compose-init.js';
import { Compose } from './compose.js';
import { FolderList } from './folder-list.js';
import { MessageList } from './message-list.js';
import { MessageView } from './message-view.js';
import { useShortcuts, type ShortcutAction } from './shortcuts.js';

/** What the list shows: a folder, or a search (everywhere). */
type ListView = { readonly mailboxId: string; readonly search?: undefined } | { readonly mailboxId?: undefined; readonly search: string };

export interface Status {
  readonly text: string;
  readonly error?: boolean;
}

export function MailApp({ client, onLogout }: { client: JmapClient; onLogout: () => void }) {
  const api = useMemo(() => new MailApi(client), [client]);
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [view, setView] = useState<ListView | undefined>(undefined);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [open, setOpen] = useState<FullEmail | undefined>(undefined);
  const [conversation, setConversation] = useState<ListItem[]>([]);
  const [compose, setCompose] = useState<{ kind: ComposeKind; source?: FullEmail; key: number } | undefined>(undefined);
  const [status, setStatus] = useState<Status>({ text: '' });
  // bumped when the server says something changed (push) or after an action of ours
  const [version, setVersion] = useState(0);
  const searchBox = useRef<HTMLInputElement>(null);
  /** j or k onto a row whose page is not in yet: selected once it is */
  const selectOnLoad = useRef<number | undefined>(undefined);
  const refresh = (): void => setVersion((v) => v + 1);
  const fail = (err: unknown): void => setStatus({ text: (err as Error).message, error: true });
  const role = (r: string): Mailbox | undefined => mailboxes.find((m) => m.role === r);

  useEffect(() => {
    let current = true;
    api.mailboxes().then((list) => {
      if (!current) return;
      setMailboxes(list);
      setView((v) => v ?? { mailboxId: (list.find((m) => m.role === 'inbox') ?? list[0]).id });
    }, fail);
    return () => {
      current = false;
    };
  }, [api, version]);

  const list = useListPages(api, view?.mailboxId, view?.search, version, view !== undefined, fail);
  useEffect(() => {
    const i = selectOnLoad.current;
    const row = i === undefined ? undefined : list.at(i);
    if (row) {
      selectOnLoad.current = undefined;
      setSelected(row.item.id);
    }
  });

  useEffect(() => {
    if (selected === undefined) {
      setOpen(undefined);
      return;
    }
    let current = true;
    api.email(selected).then((e) => {
      if (!current) return;
      setOpen(e);
      if (e && !e.keywords.$seen) api.setKeyword([e.id], '$seen', true).then(refresh, fail);
    }, fail);
    return () => {
      current = false;
    };
  }, [api, selected]);

  // the open message's conversation (again when something changed: a reply arrived)
  const threadId = open?.threadId;
  useEffect(() => {
    if (threadId === undefined) return setConversation([]);
    let current = true;
    api.conversation(threadId).then((list) => current && setConversation(list), fail);
    return () => {
      current = false;
    };
  }, [api, threadId, version]);

  // RFC 8620 §7.3: a state change (a delivery, IMAP, another browser) refreshes what is shown
  useEffect(() => {
    const stop = new AbortController();
    client.listen(refresh, stop.signal);
    return () => stop.abort();
  }, [client]);

  const at = selected === undefined ? -1 : list.indexOf(selected);
  /** the message to show after the open one leaves the list */
  const neighbour = (): string | undefined => (at < 0 ? undefined : (list.at(at + 1) ?? list.at(at - 1))?.item.id);

  const act = async (what: string, fn: () => Promise<void>, next?: string): Promise<void> => {
    try {
      await fn();
      setStatus({ text: what });
      setSelected(next);
      refresh();
    } catch (err) {
      fail(err);
    }
  };
  const moveTo = (e: FullEmail, target: Mailbox | undefined, what: string): void => {
    if (!target) return fail(new Error(`no ${what} folder`));
    void act(`moved to ${target.name}`, () => api.move(e.id, target.id), neighbour());
  };
  const actions = {
    archive: (e: FullEmail) => moveTo(e, role('archive'), 'Archive'),
    remove: (e: FullEmail) => {
      const trash = role('trash');
      if (trash && e.mailboxIds[trash.id]) void act('deleted for good', () => api.destroy(e.id), neighbour());
      else moveTo(e, trash, 'Trash');
    },
    move: (e: FullEmail, mailboxId: string) => moveTo(e, mailboxes.find((m) => m.id === mailboxId), 'such'),
    flag: (e: FullEmail) => void act(e.keywords.$flagged ? 'unflagged' : 'flagged', () => api.setKeyword([e.id], '$flagged', !e.keywords.$flagged), e.id),
    unread: (e: FullEmail) => void act('marked unread', () => api.setKeyword([e.id], '$seen', false), undefined),
    compose: (kind: ComposeKind, source?: FullEmail) => setCompose({ kind, source, key: Date.now() }),
  };
  // keep the open message's keywords current after a refresh
  useEffect(() => {
    if (selected !== undefined && open && version > 0) api.email(selected).then((e) => e && setOpen(e), fail);
  }, [version]);

  useShortcuts(compose === undefined, (action: ShortcutAction) => {
    switch (action) {
      case 'next':
      case 'previous': {
        const i = at < 0 ? 0 : at + (action === 'next' ? 1 : -1);
        if (i < 0 || i >= (list.total ?? 0)) return;
        const row = list.at(i);
        if (row) setSelected(row.item.id);
        else {
          // its page is not in yet: fetched, then selected
          selectOnLoad.current = i;
          list.want(i, i);
        }
        return;
      }
      case 'compose':
        return actions.compose('new');
      case 'search':
        return searchBox.current?.focus();
      case 'back':
        return setSelected(undefined);
    }
    if (!open) return;
    if (action === 'reply' || action === 'reply-all' || action === 'forward') actions.compose(action, open);
    else if (action === 'archive') actions.archive(open);
    else if (action === 'delete') actions.remove(open);
    else if (action === 'flag') actions.flag(open);
  });

  const choose = (v: ListView): void => {
    setView(v);
    setSelected(undefined);
  };
  const current = mailboxes.find((m) => m.id === view?.mailboxId);
  const title = view?.search !== undefined ? `Search: ${view.search}` : (current?.name ?? '');
  const unread = mailboxes.find((m) => m.role === 'inbox')?.unreadEmails ?? 0;
  useEffect(() => {
    document.title = `${unread > 0 ? `(${unread}) ` : ''}${title || 'mail'} — correio`;
  }, [unread, title]);
  return (
    <div class={`mail${open ? ' has-open' : ''}${compose ? ' has-compose' : ''}`}>
      <header class="top">
        <h1>correio</h1>
        <form
          id="search"
          role="search"
          onSubmit={(ev) => {
            ev.preventDefault();
            const text = searchBox.current?.value.trim() ?? '';
            if (text !== '') choose({ search: text });
          }}
        >
          <input ref={searchBox} name="q" type="search" placeholder="Search mail ( / )" aria-label="Search mail" />
        </form>
        <button type="button" class="primary" data-action="compose" onClick={() => actions.compose('new')}>
          Compose
        </button>
        <span class="who">{client.session.username}</span>
        <button type="button" onClick={onLogout}>
          Log out
        </button>
      </header>
      <p id="status" class={status.error ? 'error' : 'ok'} role="status">
        {status.text}
      </p>
      <FolderList mailboxes={mailboxes} current={view?.mailboxId} onChoose={(id) => choose({ mailboxId: id })} />
      <MessageList title={title} list={list} unit={view?.search !== undefined ? 'message' : 'conversation'} selected={selected} outgoing={current?.role === 'sent' || current?.role === 'drafts'} onSelect={setSelected} />
      {open && <MessageView key={open.id} email={open} conversation={conversation} client={client} mailboxes={mailboxes} actions={actions} onOpen={setSelected} onBack={() => setSelected(undefined)} onError={fail} />}
      {compose && (
        <Compose
          key={compose.key}
          api={api}
          initial={draftFor(compose.kind, compose.source, client.session.username)}
          draftId={compose.kind === 'edit' ? compose.source?.id : undefined}
          drafts={role('drafts')}
          sent={role('sent')}
          onStatus={setStatus}
          onClose={() => {
            setCompose(undefined);
            refresh();
          }}
        />
      )}
    </div>
  );
}
