/**
 * @module command-dispatch
 * Which command may run in which state, the handler of each, and the updates of the selected
 * mailbox sent after a command (before its tagged reply) at the moments RFC 9051 allows.
 * Standards: RFC 9051 §3 (states), §6.1 (CAPABILITY, NOOP, LOGOUT in any state), §6.4.1
 *   (CHECK as NOOP), §7.5.1 (no EXPUNGE during FETCH, STORE, SEARCH; their UID forms may);
 *   RFC 2971 (ID: the server's own fields); RFC 5161 (ENABLE: ENABLED lists what the command
 *   turned on; unknown extensions ignored); RFC 7162 §3.2.3 (QRESYNC implies CONDSTORE);
 *   RFC 9051 §6.3.1 (ENABLE IMAP4rev2); RFC 6855 §3 (ENABLE UTF8=ACCEPT);
 *   RFC 2342 (NAMESPACE); RFC 3691 (UNSELECT); RFC 9208 (QUOTA, quota-commands.ts); RFC 4978
 *   (COMPRESS=DEFLATE, COMPRESSIONACTIVE).
 * Security: a command outside its state is refused with BAD before any handler runs.
 * Limitations: none.
 */
import type { ImapCommand } from '../../protocol/imap/index.js';
import type { LineConnection } from '../connection/index.js';
import { idle, type IdleHost } from './idle-command.js';
import { append } from './append-command.js';
import { create, list, remove, rename, select, status, subscribe } from './mailbox-commands.js';
import { fetch } from './fetch-command.js';
import { copyOrMove, expunge, search, store } from './message-commands.js';
import { quotaCommand } from './quota-commands.js';
import type { SessionAuth } from './session-auth.js';
import { sort, thread } from './sort-command.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** The session as the dispatcher sees it. */
export interface DispatchHost extends SessionIo, IdleHost {
  readonly conn: LineConnection;
  readonly state: SessionState;
  readonly auth: SessionAuth;
  capabilities(): string[];
  /** QRESYNC (and with it CONDSTORE), IMAP4rev2 and UTF8=ACCEPT as turned on by ENABLE */
  enableQresync(): void;
  enableRev2(): void;
  enableUtf8(): void;
  /** writes a tagged reply now (before a switch of the stream under it) */
  tagged(tag: string, r: TaggedResult): void;
  /** LOGOUT: BYE, the tagged OK, and the end of the session */
  logout(tag: string): Promise<void>;
}

const anyState = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'ID']);
const notAuthOnly = new Set(['STARTTLS', 'LOGIN', 'AUTHENTICATE']);
const selectedOnly = new Set(['CLOSE', 'UNSELECT', 'EXPUNGE', 'UID EXPUNGE', 'SEARCH', 'SORT', 'THREAD', 'FETCH', 'STORE', 'COPY', 'MOVE', 'CHECK']);

/** The BAD for a command given in a state that does not allow it; undefined when allowed. */
export function stateError(name: string, state: SessionState): TaggedResult | undefined {
  if (anyState.has(name)) return undefined;
  if (notAuthOnly.has(name) && state !== 'not-authenticated') return bad('Already authenticated');
  if (!notAuthOnly.has(name) && state === 'not-authenticated') return bad('Not authenticated');
  if (selectedOnly.has(name) && state !== 'selected') return bad('No mailbox selected');
  return undefined;
}

/** Runs a parsed command; the tagged result, or undefined when the handler answered itself. */
export async function dispatch(s: DispatchHost, tag: string, c: ImapCommand): Promise<TaggedResult | undefined> {
  const refused = stateError(c.name, s.state);
  if (refused) return refused;
  const r = await run(s, tag, c);
  const updating = r === undefined ? undefined : updatesAfter(s, c.name, 'uid' in c && c.uid);
  if (updating) await updating;
  return r;
}

/**
 * Queues the selected mailbox's updates after a command, before its tagged reply: at once when
 * the mailbox need not be looked at (SelectedMailbox.refreshNow: no promise), else the promise
 * of the look.
 */
export function updatesAfter(s: DispatchHost, name: string, uid: boolean): Promise<void> | undefined {
  const sel = s.selected;
  if (!sel) return undefined;
  // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE, SEARCH (their UID forms may)
  // (RFC 5256 §3, §4: SORT and THREAD as SEARCH)
  const noExpunge = ['FETCH', 'STORE', 'SEARCH', 'SORT', 'THREAD'].includes(name) && !uid;
  const force = name === 'NOOP' || name === 'CHECK';
  const queue = (lines: readonly string[]): void => {
    for (const line of lines) s.conn.queue(`${line}\r\n`);
  };
  const now = sel.refreshNow(!noExpunge, force);
  if (now) return void queue(now);
  return sel.refresh(!noExpunge, force).then(queue);
}

async function run(s: DispatchHost, tag: string, c: ImapCommand): Promise<TaggedResult | undefined> {
  switch (c.name) {
    case 'CAPABILITY':
      s.untagged(`CAPABILITY ${s.capabilities().join(' ')}`);
      return ok('CAPABILITY completed');
    case 'NOOP':
    case 'CHECK':
      return ok(`${c.name} completed`);
    case 'LOGOUT':
      await s.logout(tag);
      return undefined;
    case 'ID':
      // RFC 2971 §3.3: the server's own fields; the client's are not kept
      s.untagged('ID ("name" "correio")');
      return ok('ID completed');
    case 'STARTTLS':
      return s.auth.startTls(tag);
    case 'LOGIN':
      return s.auth.loginCommand(c.user, c.password);
    case 'AUTHENTICATE':
      return s.auth.authenticate(c.mechanism, c.initial);
    case 'ENABLE':
      return enable(s, c.capabilities);
    case 'COMPRESS':
      return compress(s, tag, c.mechanism);
    case 'NAMESPACE':
      s.untagged('NAMESPACE (("" ".")) NIL NIL');
      return ok('NAMESPACE completed');
    case 'SELECT':
    case 'EXAMINE':
      return select(s, c);
    case 'CREATE':
      return create(s, c.mailbox, c.use);
    case 'DELETE':
      return remove(s, c.mailbox);
    case 'RENAME':
      return rename(s, c.from, c.to);
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      return subscribe(s, c.mailbox, c.name === 'SUBSCRIBE');
    case 'LIST':
    case 'LSUB':
      return list(s, c);
    case 'STATUS':
      return status(s, c);
    case 'APPEND':
      return append(s, c);
    case 'IDLE':
      return idle(s);
    case 'CLOSE': {
      const r = await expunge(s, s.selected!, undefined, true);
      s.deselect();
      return r;
    }
    case 'UNSELECT':
      s.deselect();
      return ok('UNSELECT completed');
    case 'EXPUNGE':
      return expunge(s, s.selected!, undefined, false);
    case 'UID EXPUNGE':
      return expunge(s, s.selected!, c.set, false);
    case 'FETCH':
      return fetch(s, s.selected!, c);
    case 'STORE':
      return store(s, s.selected!, c);
    case 'SEARCH':
      return search(s, s.selected!, c, tag);
    case 'COPY':
    case 'MOVE':
      return copyOrMove(s, s.selected!, c);
    case 'SORT':
      return sort(s, s.selected!, c, tag);
    case 'THREAD':
      return thread(s, s.selected!, c);
    case 'GETQUOTA':
    case 'GETQUOTAROOT':
    case 'SETQUOTA':
      return quotaCommand(s, c);
  }
}

/** RFC 4978 §3: the OK goes out uncompressed, everything after it (both ways) is DEFLATE. */
function compress(s: DispatchHost, tag: string, mechanism: string): TaggedResult | undefined {
  if (mechanism !== 'DEFLATE') return bad('Unknown compression mechanism');
  if (s.conn.compressed) return no('Compression is already active', 'COMPRESSIONACTIVE');
  s.tagged(tag, ok('DEFLATE active'));
  s.conn.startDeflate();
  return undefined;
}

/** RFC 5161 §3.1: extensions we do not know (or need no enabling) are ignored. */
function enable(s: DispatchHost, caps: readonly string[]): TaggedResult {
  const now: string[] = [];
  for (const cap of caps) {
    if (cap === 'CONDSTORE' && !s.condstore) {
      s.enableCondstore();
      now.push(cap);
    } else if (cap === 'QRESYNC' && !s.qresync) {
      // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
      s.enableQresync();
      now.push(cap);
    } else if (cap === 'IMAP4REV2' && !s.rev2) {
      // RFC 9051 §6.3.1: a server offering both revisions acts as IMAP4rev1 until then
      s.enableRev2();
      now.push('IMAP4rev2');
    } else if (cap === 'UTF8=ACCEPT' && !s.utf8) {
      s.enableUtf8();
      now.push(cap);
    }
  }
  s.untagged(['ENABLED', ...now].join(' '));
  return ok('ENABLE completed');
}
