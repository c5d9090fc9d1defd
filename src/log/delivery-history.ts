/**
 * @module delivery-history
 * A bounded history of each message's mail events (received, queued, delivered, deferred,
 * bounced, expired), kept by serve so that `correio trace` can tell a message's life after it
 * has left the queue. One file of JSON lines per UTC day, `<data_dir>/history/YYYY-MM-DD.jsonl`,
 * fed from the same diagnostics_channel events as the mail log (docs/logging.md gives their
 * fields); files older than `[log] history` are removed.
 * Standards: none (the mail log's events, kept).
 * Security: addresses and replies only, never bodies; the files are 0600 in a 0700 folder.
 * Limitations: lines are written in batches (batched-output.ts): a `kill -9` can lose the last
 *   50 ms of history, never mail. Finding a message reads every kept day (the newest first)
 *   and stops at the first day that has it and its arrival; a message that took longer than
 *   the retention to leave the queue is shown from what is left.
 */
import diagnostics from 'node:diagnostics_channel';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { channels, messageIdOfEnvelope } from '../core/index.js';
import { BatchedOutput } from './batched-output.js';
import { eventText } from './event-text.js';

/** The events kept, in the order of a message's life. */
export const historyEvents = ['received', 'queued', 'delivered', 'deferred', 'bounced', 'expired', 'admin'] as const;
export type HistoryEventName = (typeof historyEvents)[number];

/** One kept event: its name, its time (ms since 1970) and the event's own fields. */
export interface HistoryEvent {
  readonly event: HistoryEventName;
  readonly time: number;
  readonly [field: string]: unknown;
}

export function historyDir(dataDir: string): string {
  return join(dataDir, 'history');
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

export interface DeliveryHistoryOptions {
  readonly dataDir: string;
  /** ms a day's file is kept after its day ended */
  readonly retentionMs: number;
  readonly now?: () => number;
}

/** The writer: subscribed to the mail events while running. */
export class DeliveryHistory {
  private readonly dir: string;
  private readonly now: () => number;
  private day = '';
  /** [start, end) of `day` in ms: an event inside it needs no date formatted */
  private dayStart = 0;
  private dayEnd = 0;
  private fd: number | undefined;
  private output: BatchedOutput | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private closing: Promise<void>[] = [];

  constructor(private readonly opts: DeliveryHistoryOptions) {
    this.dir = historyDir(opts.dataDir);
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.prune();
    for (const name of historyEvents) {
      const handler = (message: unknown): void => {
        if (typeof message !== 'object' || message === null) return;
        // an operator's directory change has no message: it is the admin log's (log/admin-log.ts)
        if (name === 'admin' && (message as { messageId?: unknown }).messageId === undefined) return;
        this.write(name, message, this.now());
      };
      diagnostics.subscribe(channels[name], handler);
      this.unsubscribe.push(() => diagnostics.unsubscribe(channels[name], handler));
    }
  }

  /**
   * One line: the event's own fields, then `event` and `time` (which win over fields of the same
   * name when read, as JSON.parse keeps the last). Serialised as published and completed as
   * text: a copy of each event with two more fields made JSON.stringify ~3 times slower.
   */
  private write(name: HistoryEventName, message: object, time: number): void {
    if (time < this.dayStart || time >= this.dayEnd) this.rollTo(time);
    // the text the mail log made of this event too (event-text.ts; an acceptor's as it came)
    const json = eventText(message);
    if (json === undefined || json[0] !== '{') return;
    const tail = `"event":"${name}","time":${time}}\n`;
    this.output?.write(json.length > 2 ? `${json.slice(0, -1)},${tail}` : `{${tail}`);
  }

  private rollTo(time: number): void {
    const day = dayOf(time);
    this.dayStart = Math.floor(time / DAY_MS) * DAY_MS;
    this.dayEnd = this.dayStart + DAY_MS;
    if (day === this.day) return;
    this.closeFile();
    this.day = day;
    try {
      this.fd = openSync(join(this.dir, `${day}.jsonl`), 'a', 0o600);
      this.output = new BatchedOutput(this.fd);
    } catch {
      this.fd = undefined;
      this.output = undefined;
    }
    this.prune();
  }

  private closeFile(): void {
    const { fd, output } = this;
    this.fd = undefined;
    this.output = undefined;
    if (output === undefined || fd === undefined) return;
    this.closing.push(output.stop().then(() => closeSync(fd)));
  }

  /** Removes the days that ended more than the retention ago. */
  private prune(): void {
    const oldest = dayOf(this.now() - this.opts.retentionMs);
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const f of files) {
      const m = /^(\d{4}-\d\d-\d\d)\.jsonl$/.exec(f);
      if (m && m[1] < oldest) {
        try {
          unlinkSync(join(this.dir, f));
        } catch {
          // another process removed it
        }
      }
    }
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.closeFile();
    await Promise.all(this.closing);
    this.closing = [];
  }
}

/**
 * Adds one event to today's file from a process that is not serve (the CLI's queue actions with
 * the server stopped): one write of one line in append mode, which does not interleave with
 * serve's batches. False when the folder cannot be made or written (the caller goes on).
 */
export function appendHistory(dataDir: string, event: HistoryEventName, fields: Record<string, unknown>, now: number = Date.now()): boolean {
  const dir = historyDir(dataDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    appendFileSync(join(dir, `${dayOf(now)}.jsonl`), `${JSON.stringify({ ...fields, event, time: now })}\n`, { mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

/** The history's day files, newest first, each read whole (a file that cannot be read is skipped). */
async function* daysNewestFirst(dataDir: string): AsyncGenerator<string> {
  const dir = historyDir(dataDir);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /^\d{4}-\d\d-\d\d\.jsonl$/.test(f)).sort().reverse();
  } catch {
    return;
  }
  for (const f of files) {
    try {
      // read on the thread pool: serve's admin API asks too, and a day's file may be megabytes
      yield await readFile(join(dir, f), 'utf8');
    } catch {
      continue;
    }
  }
}

/** The `<…>` of a Message-ID field, or the trimmed text when it has none (RFC 5322 §3.6.4). */
function msgIdOf(text: string): string {
  return /<[^<>]*>/.exec(text)?.[0] ?? text.trim();
}

/**
 * The queue ids of the messages whose Message-ID field is `messageIdField` (with or without its
 * angle brackets), newest first, from the `received` events the history keeps.
 */
export async function findByMessageIdField(dataDir: string, messageIdField: string): Promise<string[]> {
  const wanted = msgIdOf(messageIdField.includes('<') ? messageIdField : `<${messageIdField.trim()}>`);
  const ids: string[] = [];
  for await (const text of daysNewestFirst(dataDir)) {
    const day: string[] = [];
    for (const line of text.split('\n')) {
      if (!line.includes('"received"') || !line.includes(wanted.slice(1, -1))) continue;
      try {
        const e = JSON.parse(line) as HistoryEvent;
        if (e.event === 'received' && typeof e.messageIdHeader === 'string' && msgIdOf(e.messageIdHeader) === wanted && typeof e.messageId === 'string') day.push(e.messageId);
      } catch {
        // a line cut by a crash
      }
    }
    ids.push(...day.reverse());
  }
  return ids;
}

/**
 * The kept events of one message (a queue id, or an envelope id `<id>-<n>`), oldest first;
 * empty when the history has none.
 */
export async function findHistory(dataDir: string, id: string): Promise<HistoryEvent[]> {
  const messageId = messageIdOfEnvelope(id) ?? id;
  const found: HistoryEvent[] = [];
  for await (const text of daysNewestFirst(dataDir)) {
    const day: HistoryEvent[] = [];
    for (const line of text.split('\n')) {
      // cheap test first: most lines are about other messages
      if (!line.includes(messageId)) continue;
      try {
        const e = JSON.parse(line) as HistoryEvent;
        if (e.messageId === messageId) day.push(e);
      } catch {
        // a line cut by a crash
      }
    }
    found.unshift(...day);
    if (day.some((e) => e.event === 'received')) break;
  }
  return found;
}
