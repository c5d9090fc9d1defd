/**
 * @module queue-command
 * `correio queue list|show|flush|hold|release|delete|bounce` and `mailq` (= `queue list`):
 * the operator's view of the spool and actions on it.
 * Listings read the spool files directly (envelope files are replaced atomically, so a running
 * server never shows a half-written one). Actions go through a QueueControl: online
 * (SocketQueueControl, the running server's queue runner, so that it stays the one owner of
 * delivery state) when a server answers, else offline (StoreQueueControl, on the spool; the
 * server acts on the changes at its next start). Both run the same transitions.
 * Each envelope shows its state (queued, deferred, held, notice-pending with the notice's kind)
 * and, as before, the operator's word for it (active, deferred, held, bouncing, delivered).
 * An ID is a message id (all its envelopes) or an envelope id ("<message id>-<n>").
 * Standards: seed §2 (deferred mail is kept and retried; each attempt recorded);
 *   RFC 3464 (`bounce` sends a failure notice); sysexits(3).
 * Security: anyone who can read data_dir can run these; the control socket is mode 0600.
 *   A user who may not read the spool is answered by the running server (public.sock); with the
 *   server down, 69 (EX_UNAVAILABLE) as Postfix's mailq, saying what to do.
 * Limitations: offline `bounce` only marks the envelopes: the failure notice is sent when the
 *   server next runs. `flush` without a server only makes envelopes due.
 */
import type { Command } from 'commander';
import { addressToString, reversePathToString, type QueueControl, type QueueStore } from '../../core/index.js';
import type { Config } from '../../config/index.js';
import {
  StoreQueueControl, findQueued, findQueuedMessage, listQueuePage, pageOfIds, pageSlack, walkQueue, type QueuedMessage,
} from '../../queue/index.js';
import { ControlError, SocketQueueControl, askPublic, openQueueStore, operatorName, publicSocketPath } from '../../app/index.js';
import { appendAdminLog, appendHistory } from '../../log/index.js';
import { submitsThroughMaildrop } from './sendmail-maildrop.js';
import {
  describeAttempt, isoTime, lastError, maxPageLimit, messageJson, parsePageLimit, parseSince, routeText, sinceForms, stateLabel, stateText,
} from '../../admin/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** How long a command waits for a running server's answer. */
const CONTROL_TIMEOUT_MS = 30_000;

/** Pages up to this many messages are listed from the running server's ids (larger ones from the spool). */
const serverPageLimit = 10_000;

/** Opens the spool for reading or operator changes; recovery is left to the server. */
export function openSpool(config: Config): Promise<QueueStore> {
  return openQueueStore(config, { recover: 'never' });
}

export async function withSpool<T>(config: Config, fn: (store: QueueStore) => Promise<T>): Promise<T> {
  const store = await openSpool(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function sender(m: { sender: QueuedMessage['sender'] }): string {
  return `<${reversePathToString(m.sender)}>`;
}

/**
 * Prints the queue as `mailq` does, as the walk reads it: one line per message, then one per
 * recipient, then Postfix showq's summary (word for word, so that monitoring written for mailq
 * keeps working). Returns the last message id printed.
 */
export async function printQueue(ctx: CliContext, queue: AsyncIterable<QueuedMessage> | Iterable<QueuedMessage>, now: number = Date.now()): Promise<string | undefined> {
  let octets = 0;
  let count = 0;
  let last: string | undefined;
  for await (const m of queue) {
    count++;
    octets += m.size;
    last = m.messageId;
    ctx.print(`${m.messageId}  ${m.size}  ${isoTime(m.arrivedAt)}  ${sender(m)}`);
    for (const e of m.envelopes) {
      const state = stateLabel(e, now);
      const next = state === 'deferred' ? ` until ${isoTime(e.nextAttemptAt)}` : '';
      const err = lastError(e);
      ctx.print(`    ${addressToString(e.recipient)}  ${state}${next}${err !== undefined ? `  (${err})` : ''}`);
    }
  }
  if (count === 0) ctx.print('Mail queue is empty');
  else ctx.print(`-- ${Math.ceil(octets / 1024)} Kbytes in ${count} Request${count === 1 ? '' : 's'}.`);
  return last;
}

/** Prints messages as one JSON array, one object per line as the walk reads them (`[]` when none). */
async function printJson(ctx: CliContext, queue: AsyncIterable<QueuedMessage> | Iterable<QueuedMessage>, now: number): Promise<void> {
  let first = true;
  for await (const m of queue) {
    ctx.print(`${first ? '[' : ','}${JSON.stringify(messageJson(m, now))}`);
    first = false;
  }
  ctx.print(first ? '[]' : ']');
}

function printMessage(ctx: CliContext, m: QueuedMessage, now: number): void {
  ctx.print(`message ${m.messageId}`);
  ctx.print(`  sender: ${sender(m)}`);
  ctx.print(`  size: ${m.size} octets`);
  ctx.print(`  arrived: ${isoTime(m.arrivedAt)}`);
  for (const e of m.envelopes) {
    const state = stateLabel(e, now);
    ctx.print(`envelope ${e.id}`);
    const given = e.originalRecipient && addressToString(e.originalRecipient) !== addressToString(e.recipient)
      ? ` (given as ${addressToString(e.originalRecipient)})`
      : '';
    ctx.print(`  recipient: ${addressToString(e.recipient)}${given}`);
    ctx.print(`  route: ${routeText(e)}`);
    if (e.resolvedVia && e.resolvedVia.length > 0) ctx.print(`  resolved via: ${e.resolvedVia.join(' -> ')}`);
    const next = e.nextAttemptAt > 0 ? `, next attempt ${isoTime(e.nextAttemptAt)}` : '';
    ctx.print(`  state: ${state}${state === 'held' || state === 'deferred' ? next : ''}`);
    if (e.dsn.notify) ctx.print(`  notify: ${e.dsn.notify.join(',')}`);
    if (e.attempts.length === 0) ctx.print('  attempts: none yet');
    e.attempts.forEach((a, i) => ctx.print(`  attempt ${i + 1}: ${describeAttempt(a)}`));
    ctx.print(`  queue state: ${stateText(e)}`);
  }
}

/** The message (or envelope) an ID names, or CliError 65 `no such message: ID`. */
export async function requireQueued(store: QueueStore, id: string): Promise<QueuedMessage> {
  const m = await findQueuedMessage(store, id);
  if (!m) throw new CliError(`no such message: ${id}`, exitCodes.dataErr);
  return m;
}

type Action = 'flush' | 'hold' | 'release' | 'delete' | 'bounce';

function act(control: QueueControl, action: Action, id: string | undefined): Promise<number> {
  if (action === 'flush') return control.flush(id);
  return control[action](id!);
}

const pastTense: Record<Action, string> = {
  flush: 'flushed',
  hold: 'held',
  release: 'released',
  delete: 'deleted',
  bounce: 'bounced',
};

/**
 * Runs an action through a running server (control socket), or on the spool when none runs.
 * Returns how many envelopes changed and whether a server did it.
 */
export async function queueAction(config: Config, action: Action, id: string | undefined): Promise<{ count: number; server: boolean }> {
  if (id !== undefined) {
    const found = await withSpool(config, (s) => findQueued(s, id));
    if (found.length === 0) throw new CliError(`no such message: ${id}`, exitCodes.dataErr);
  }
  // The runner acts on its own index: waking it makes it re-read the spool first so that a
  // message dropped in by `sendmail` since its last poll is known to it.
  const online = new SocketQueueControl(config, CONTROL_TIMEOUT_MS);
  if (await online.wake()) {
    try {
      return { count: await act(online, action, id), server: true };
    } catch (err) {
      if (!(err instanceof ControlError)) throw err;
      if (err.reason === 'no-answer') throw new CliError(`the server stopped answering during ${action}`, exitCodes.tempFail);
      throw new CliError(`server refused ${action}: ${err.message}`, exitCodes.tempFail);
    }
  }
  const count = await withSpool(config, (s) => act(new StoreQueueControl(s), action, id));
  // no server to log it: the command keeps the record in the delivery history itself, so that
  // correio trace tells the message's end once it has left the queue (docs/logging.md)
  const record = { action, ...(id !== undefined && { id, messageId: id.replace(/-\d+$/, '') }), count, by: operatorName(), via: 'cli', server: false };
  if (count > 0) appendHistory(config.dataDir, 'admin', record);
  appendAdminLog(config.dataDir, config.hostname, record);
  return { count, server: false };
}

function actionLine(action: Action, id: string | undefined, r: { count: number; server: boolean }): string {
  const what = `${r.count} envelope${r.count === 1 ? '' : 's'}`;
  const target = id === undefined ? 'queue' : id;
  if (r.server) return `${target}: ${pastTense[action]} ${what}`;
  const later = action === 'bounce' || action === 'flush' || action === 'release'
    ? ' (no server running: it acts on them when it starts)'
    : ' (no server running)';
  return `${target}: ${pastTense[action]} ${what}${later}`;
}

/** What `queue list` may be given: a page size and where to start (see admin's parseSince). */
export interface ListOptions {
  readonly json?: boolean;
  readonly limit?: string;
  readonly since?: string;
}

/** The walk's options from the command line; CliError 64 naming the option on bad input. */
function pageOf(opts: ListOptions): { limit?: number; after?: string } {
  const limit = opts.limit === undefined ? undefined : parsePageLimit(opts.limit);
  if (opts.limit !== undefined && limit === undefined) {
    throw new CliError(`--limit ${JSON.stringify(opts.limit)}: expected a whole number of messages from 1 to ${maxPageLimit}`, exitCodes.usage);
  }
  const after = opts.since === undefined ? undefined : parseSince(opts.since);
  if (opts.since !== undefined && after === undefined) {
    throw new CliError(`--since ${JSON.stringify(opts.since)}: expected ${sinceForms}`, exitCodes.usage);
  }
  return { limit, after };
}

/**
 * `queue list` / `mailq` / `sendmail -bp`: oldest first, printed as read. With --limit, one page
 * (only its messages and one more are read) and, when more follow, the --since that gives the next one.
 */
export async function listCommand(ctx: CliContext, config: Config, opts: ListOptions = {}): Promise<void> {
  const { limit, after } = pageOf(opts);
  const now = Date.now();
  if (submitsThroughMaildrop(config)) {
    // not the spool's owner: the running server lists it (app/public-socket.ts)
    const r = await askPublic(config, { op: 'mailq', ...(limit !== undefined && { limit }), ...(after !== undefined && { after }) });
    // Postfix's postqueue with the mail system down: "Queue report unavailable - mail system is
    // down", EX_UNAVAILABLE; only its owner may read the spool (there is no set-uid helper)
    if (r === undefined) {
      throw new CliError(
        `queue report unavailable: the mail system is down (no correio serve answers on ${publicSocketPath(config)}) and the queue is readable by its owner only: ` +
          "start correio serve (systemctl start correio), or run mailq as root or the data directory's owner",
        exitCodes.unavailable,
      );
    }
    if (!r.ok || r.messages === undefined) throw new CliError(`the server did not list the queue: ${r.error ?? 'no answer'}`, exitCodes.tempFail);
    if (opts.json) await printJson(ctx, r.messages, now);
    else await printQueue(ctx, r.messages, now);
    if (r.next !== undefined) ctx.stderr.write(`more: --since ${r.next}\n`);
    return;
  }
  // a page's ids from the running server's memory when it has them (no listing of a big spool)
  const ids = limit !== undefined && limit <= serverPageLimit ? await new SocketQueueControl(config, CONTROL_TIMEOUT_MS).page(after, limit + pageSlack) : undefined;
  await withSpool(config, async (s) => {
    const page = limit === undefined ? undefined : ids ? await pageOfIds(s, ids, limit) : await listQueuePage(s, { limit, after });
    const queue = page?.messages ?? walkQueue(s, { after });
    if (opts.json) await printJson(ctx, queue, now);
    else await printQueue(ctx, queue, now);
    // on stderr, so that what stdout carries stays mailq's format (and --json's one array)
    if (page?.next !== undefined) ctx.stderr.write(`more: --since ${page.next}\n`);
  });
}

export function register(program: Command, ctx: CliContext): void {
  const queue = program.command('queue').description('the spool: list, show, flush, hold, release, delete, bounce');

  queue
    .command('list')
    .description('list queued messages and each recipient\'s state (mailq)')
    .option('--json', 'print a JSON array, one object per message')
    .option('--limit <n>', 'at most N messages (one page; when more follow, the next page\'s --since is printed on stderr)')
    .option('--since <id|time>', 'messages after this message id (the last of the previous page), or received from this time on (2026-12-05T21:00:00Z)')
    .action(async (opts: ListOptions, cmd: Command) => {
      await listCommand(ctx, ctx.config(cmd), opts);
    });

  queue
    .command('show')
    .description('show one message: every envelope with its attempts (time, host, IP, reply)')
    .argument('<id>', 'message id or envelope id')
    .option('--json', 'print a JSON array with the one message')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const m = await withSpool(ctx.config(cmd), (s) => requireQueued(s, id));
      const now = Date.now();
      if (opts.json) ctx.print(JSON.stringify([messageJson(m, now, true)]));
      else printMessage(ctx, m, now);
    });

  queue
    .command('flush')
    .description('make deferred envelopes due now (all, or one message); held ones stay held')
    .argument('[id]', 'message id or envelope id')
    .action(async (id: string | undefined, _opts: unknown, cmd: Command) => {
      const r = await queueAction(ctx.config(cmd), 'flush', id);
      ctx.print(actionLine('flush', id, r));
    });

  const simple: [Action, string][] = [
    ['hold', 'stop delivery attempts until released'],
    ['release', 'release a held message and make it due now'],
    ['delete', 'remove a message from the queue without any notice'],
    ['bounce', 'fail a message now: the sender gets a failure notice (RFC 3464)'],
  ];
  for (const [action, description] of simple) {
    queue
      .command(action)
      .description(description)
      .argument('<id>', 'message id or envelope id')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const r = await queueAction(ctx.config(cmd), action, id);
        ctx.print(actionLine(action, id, r));
      });
  }
}
