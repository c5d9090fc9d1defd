/**
 * @module fs-queue-store
 * The default spool: messages and envelopes as files under one directory (`<data_dir>/spool`).
 *
 *   msg/<id>          the message body, written once (CRLF, not dot-stuffed)
 *   env/<id>.json     every envelope of that message: the commit point, replaced atomically
 *   corrupt/          items found damaged at start, moved aside for the operator, never deleted
 *   lock              pid of the process that owns recovery
 *
 * commit(): body fsynced → msg/ fsynced → env file written, fsynced, renamed into env/ (the
 * commit point) → env/ fsynced. Directory fsyncs are shared between concurrent commits
 * (DirSyncer), so N concurrent commits cost a few fsyncs, not N, and go through directory
 * handles kept open (one fsync, no open/close per sync). Each fs call is a round trip to
 * libuv's thread pool, so the envelope file is written with one fs.writeFile (open, write,
 * fsync, close on plain descriptors, no FileHandle) before its rename.
 * Standards: RFC 5321 §6.1 (a message is accepted only once safely stored); seed §2 (spool).
 * Security: ids are checked against a strict alphabet before they become paths; files are 0600.
 * Limitations: envelope updates are serialized per message inside one process only; two
 *   processes may commit new messages concurrently, but only one (the owner of `lock`) should
 *   run deliveries. A deletion lost in a power failure causes a duplicate delivery, never a loss
 *   (deleting the last envelope does not fsync the directory).
 */
import { writeFile as writeFileCb } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import {
  MailError, replies,
  type Envelope, type EnvelopeId, type EnvelopeInit, type MessageDraft, type MessageId, type QueueStore,
} from '../core/index.js';
import { DirSyncer, KeyedMutex, atomicWriteFile, fileSink, uniqueId } from '../util/index.js';
import { storageError } from './storage-error.js';

export interface FsQueueStoreOptions {
  /**
   * Clean leftovers and move corrupt items aside at open: 'auto' (default) does it when no other
   * live process owns the spool (see `lock`), 'always' forces it, 'never' skips it.
   */
  recover?: 'auto' | 'always' | 'never';
  /** creates message ids (default util's uniqueId) */
  newId?: () => string;
}

/** What open() found and did; also returned by recover(). */
export interface RecoveryReport {
  messages: number;
  envelopes: number;
  /** leftover drafts and temporary files removed */
  removed: string[];
  /** items moved to corrupt/ */
  corrupted: string[];
}

interface EnvelopeFile {
  v: 1;
  messageId: MessageId;
  envelopes: Envelope[];
}

const idPattern = /^[0-9a-z]{1,64}$/;
const envelopeSeparator = '-';

/** The message id an envelope id belongs to (envelope ids are "<messageId>-<n>"). */
export function messageIdOfEnvelope(id: EnvelopeId): MessageId | undefined {
  const i = id.lastIndexOf(envelopeSeparator);
  if (i <= 0) return undefined;
  const msg = id.slice(0, i);
  return idPattern.test(msg) && /^\d{1,6}$/.test(id.slice(i + 1)) ? msg : undefined;
}

function parseEnvelopeFile(text: string, expectedId: MessageId): EnvelopeFile {
  const data = JSON.parse(text) as Partial<EnvelopeFile>;
  if (
    data?.v !== 1 || data.messageId !== expectedId || !Array.isArray(data.envelopes) || data.envelopes.length === 0 ||
    !data.envelopes.every((e) => typeof e?.id === 'string' && e.messageId === expectedId && typeof e.recipient === 'object' && typeof e.route === 'object')
  ) {
    throw new SyntaxError('not a correio envelope file');
  }
  return data as EnvelopeFile;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Writes a new file (never replacing one) and fsyncs it: fs.writeFile's open, write, fsync
 * (flush) and close, on plain descriptors. */
function writeNewDurable(path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    writeFileCb(path, data, { flag: 'wx', mode: 0o600, flush: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/** fsync errors that mean "directories cannot be synced here" (as util's fsyncDir). */
function dirSyncUnsupported(err: unknown): boolean {
  const code = errno(err);
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL';
}

let tmpCounter = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

class FsMessageDraft implements MessageDraft {
  readonly id: MessageId;
  readonly body: Writable;
  readonly #store: FsQueueStore;
  readonly #fh: FileHandle;
  readonly #path: string;
  #size = 0;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  #closed = false;

  constructor(store: FsQueueStore, id: MessageId, fh: FileHandle, path: string) {
    this.#store = store;
    this.id = id;
    this.#fh = fh;
    this.#path = path;
    this.body = fileSink(fh, { onWritten: (n) => (this.#size += n), mapError: storageError });
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }

  async commit(inits: readonly EnvelopeInit[]): Promise<Envelope[]> {
    if (this.#state !== 'open') throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    if (inits.length === 0) throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
    this.#state = 'committing';
    let renamed = false;
    let bodyDurable: Promise<unknown> | undefined;
    try {
      await finished(this.body);
      // body data, the body's directory entry and the envelope file are made durable in
      // parallel; only the rename (the commit point) waits for all three
      bodyDurable = Promise.all([
        this.#fh.sync().then(() => this.#close()),
        this.#store.syncMessageDir(),
      ]);
      bodyDurable.catch(() => undefined); // handled where awaited, below
      const envelopes: Envelope[] = inits.map((init, i) => ({
        ...init,
        id: `${this.id}${envelopeSeparator}${i + 1}`,
        messageId: this.id,
        size: this.#size,
        attempts: init.attempts ?? [],
      }));
      await this.#store.writeEnvelopeFile(this.id, envelopes, { before: bodyDurable, onRenamed: () => (renamed = true) });
      this.#state = 'committed';
      return envelopes;
    } catch (err) {
      await bodyDurable?.catch(() => undefined);
      this.#state = 'open';
      if (renamed) await unlink(this.#store.envPath(this.id)).catch(() => undefined);
      await this.abort();
      throw storageError(err);
    }
  }

  async abort(): Promise<void> {
    if (this.#state === 'committed' || this.#state === 'aborted') return;
    if (this.#state === 'committing') return; // commit's own failure path aborts
    this.#state = 'aborted';
    if (!this.body.destroyed) this.body.destroy();
    await this.#close().catch(() => undefined);
    await unlink(this.#path).catch(() => undefined);
  }
}

export class FsQueueStore implements QueueStore {
  readonly dir: string;
  readonly #msgDir: string;
  readonly #envDir: string;
  readonly #corruptDir: string;
  /** directory handles kept open for fsync, by path */
  readonly #dirHandles = new Map<string, Promise<FileHandle | undefined>>();
  readonly #syncer = new DirSyncer((dir) => this.#fsyncDir(dir));
  readonly #locks = new KeyedMutex();
  readonly #newId: () => string;
  #owner = false;
  #closed = false;

  private constructor(dir: string, opts: FsQueueStoreOptions) {
    this.dir = dir;
    this.#msgDir = join(dir, 'msg');
    this.#envDir = join(dir, 'env');
    this.#corruptDir = join(dir, 'corrupt');
    this.#newId = opts.newId ?? (() => uniqueId());
  }

  /** Opens (creating if needed) the spool in `dir` and recovers it (see FsQueueStoreOptions.recover). */
  static async open(dir: string, opts: FsQueueStoreOptions = {}): Promise<FsQueueStore> {
    const store = new FsQueueStore(dir, opts);
    for (const d of [dir, store.#msgDir, store.#envDir, store.#corruptDir]) await mkdir(d, { recursive: true, mode: 0o700 });
    store.#owner = await store.#takeLock();
    const mode = opts.recover ?? 'auto';
    if (mode === 'always' || (mode === 'auto' && store.#owner)) store.lastRecovery = await store.recover();
    return store;
  }

  /** What the recovery at open() found, when it ran. */
  lastRecovery: RecoveryReport | undefined;

  /** Whether this instance owns the spool (took `lock`): the one that should run deliveries. */
  get owner(): boolean {
    return this.#owner;
  }

  async #takeLock(): Promise<boolean> {
    const path = join(this.dir, 'lock');
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw storageError(err);
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return false; // includes our own pid: another instance here
    await atomicWriteFile(path, `${process.pid}\n`);
    return true;
  }

  envPath(id: MessageId): string {
    return join(this.#envDir, `${id}.json`);
  }

  #msgPath(id: MessageId): string {
    if (!idPattern.test(id)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    return join(this.#msgDir, id);
  }

  async #fsyncDir(dir: string): Promise<void> {
    let h = this.#dirHandles.get(dir);
    if (!h) {
      h = open(dir, 'r').catch((err: unknown) => {
        this.#dirHandles.delete(dir);
        if (dirSyncUnsupported(err)) return undefined;
        throw err;
      });
      this.#dirHandles.set(dir, h);
    }
    const fh = await h;
    if (!fh) return;
    try {
      await fh.sync();
    } catch (err) {
      if (!dirSyncUnsupported(err)) throw err;
    }
  }

  /** @internal for drafts */
  syncMessageDir(): Promise<void> {
    return this.#syncer.sync(this.#msgDir);
  }

  /**
   * @internal writes the envelope file atomically: tmp + fsync, then (once `before` resolved)
   * rename, then directory fsync. `onRenamed` runs once the file is visible.
   */
  async writeEnvelopeFile(
    id: MessageId,
    envelopes: readonly Envelope[],
    opts: { before?: Promise<unknown>; onRenamed?: () => void } = {},
  ): Promise<void> {
    const data: EnvelopeFile = { v: 1, messageId: id, envelopes: envelopes as Envelope[] };
    const path = this.envPath(id);
    // unique among processes (pid) and among this process's writers (counter)
    let tmp = join(this.#envDir, `.${id}.json.tmp-${process.pid}-${(tmpCounter = (tmpCounter + 1) % 1e9)}`);
    try {
      await writeNewDurable(tmp, JSON.stringify(data)).catch(async (err: unknown) => {
        // a leftover of a crashed process that had our pid: another name
        if (errno(err) !== 'EEXIST') throw err;
        tmp = `${tmp}-${Date.now().toString(36)}`;
        await writeNewDurable(tmp, JSON.stringify(data));
      });
      await opts.before;
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    opts.onRenamed?.();
    await this.#syncer.sync(this.#envDir);
  }

  #check(): void {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
  }

  async createMessage(): Promise<MessageDraft> {
    this.#check();
    const id = this.#newId();
    const path = this.#msgPath(id);
    try {
      const fh = await open(path, 'wx', 0o600);
      return new FsMessageDraft(this, id, fh, path);
    } catch (err) {
      throw storageError(err);
    }
  }

  async openMessage(id: MessageId): Promise<Readable> {
    const fh = await open(this.#msgPath(id), 'r');
    return fh.createReadStream({ autoClose: true, highWaterMark: 64 * 1024 });
  }

  async messageSize(id: MessageId): Promise<number> {
    return (await stat(this.#msgPath(id))).size;
  }

  async #read(id: MessageId): Promise<EnvelopeFile | undefined> {
    let text: string;
    try {
      text = await readFile(this.envPath(id), 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw storageError(err);
    }
    return parseEnvelopeFile(text, id);
  }

  /** Every envelope of one message (empty when the message is not in the queue). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    if (!idPattern.test(messageId)) return [];
    return (await this.#read(messageId))?.envelopes ?? [];
  }

  async findEnvelope(id: EnvelopeId): Promise<Envelope | undefined> {
    const msg = messageIdOfEnvelope(id);
    if (!msg) return undefined;
    return (await this.#read(msg))?.envelopes.find((e) => e.id === id);
  }

  async putEnvelope(env: Envelope): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(env.id);
    if (!msg || msg !== env.messageId) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    await this.#locks.run(msg, async () => {
      const file = await this.#read(msg);
      const i = file?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
      if (!file || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
      const next = [...file.envelopes];
      next[i] = env;
      try {
        await this.writeEnvelopeFile(msg, next);
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(id);
    if (!msg) return;
    await this.#locks.run(msg, async () => {
      const file = await this.#read(msg);
      if (!file) return;
      const rest = file.envelopes.filter((e) => e.id !== id);
      if (rest.length === file.envelopes.length) return;
      try {
        if (rest.length > 0) {
          await this.writeEnvelopeFile(msg, rest);
        } else {
          // the envelope file goes first: a body without envelopes is a leftover, never a message
          await unlink(this.envPath(msg));
          await unlink(this.#msgPath(msg)).catch(() => undefined);
        }
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  /** Ids of the queued messages, oldest first. */
  async listMessageIds(): Promise<MessageId[]> {
    const names = await readdir(this.#envDir);
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -5)).filter((n) => idPattern.test(n)).sort();
  }

  async *walkEnvelopes(): AsyncIterable<Envelope> {
    for (const id of await this.listMessageIds()) {
      let file: EnvelopeFile | undefined;
      try {
        file = await this.#read(id);
      } catch (err) {
        if (err instanceof SyntaxError) {
          await this.#locks.run(id, () => this.#moveCorrupt(id));
          continue;
        }
        throw err;
      }
      if (file) yield* file.envelopes;
    }
  }

  async #moveCorrupt(id: string): Promise<string[]> {
    const moved: string[] = [];
    const stamp = `${Date.now()}`;
    for (const [from, name] of [[this.envPath(id), `${id}.json`], [join(this.#msgDir, id), id]] as const) {
      try {
        await rename(from, join(this.#corruptDir, `${name}.${stamp}`));
        moved.push(name);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    await this.#syncer.sync(this.#corruptDir);
    return moved;
  }

  /**
   * Removes leftovers (uncommitted drafts, temporary files, bodies whose envelopes were all
   * deleted) and moves corrupt items (unparsable envelope file, envelope file without body) to
   * corrupt/. Only safe while no other process writes to the spool: open() runs it as owner.
   */
  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { messages: 0, envelopes: 0, removed: [], corrupted: [] };
    const live = new Set<string>();
    const bodies = new Set(await readdir(this.#msgDir));
    for (const name of await readdir(this.#envDir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (name.startsWith('.') || !idPattern.test(id)) {
        await unlink(join(this.#envDir, name)).catch(() => undefined);
        report.removed.push(`env/${name}`);
        continue;
      }
      let ok = false;
      try {
        const file = await this.#read(id);
        if (file && bodies.has(id)) {
          ok = true;
          report.messages++;
          report.envelopes += file.envelopes.length;
        }
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
      if (ok) live.add(id);
      else report.corrupted.push(...(await this.#moveCorrupt(id)));
    }
    for (const name of bodies) {
      if (live.has(name)) continue;
      try {
        await unlink(join(this.#msgDir, name));
        report.removed.push(`msg/${name}`);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    return report;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handles = [...this.#dirHandles.values()];
    this.#dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh?.close()).catch(() => undefined)));
    if (this.#owner) await unlink(join(this.dir, 'lock')).catch(() => undefined);
  }
}
