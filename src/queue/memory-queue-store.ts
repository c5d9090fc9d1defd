/**
 * @module memory-queue-store
 * A QueueStore held in memory: a message is its body and its envelope list in a map. It passes
 * the same contract suite as the files backend (test/contract/queue-store.contract.ts) and is
 * the shape a database backend takes: the stored data (a `MemorySpool`) outlives one store
 * object, as a database outlives a connection, so "reopen" is a new store over the same spool.
 * Standards: RFC 5321 §6.1 in form only: commit() resolves once the message is stored, but
 *   memory does not survive the process. For tests and tools, never for a server's spool.
 * Security: envelopes are copied in and out (structuredClone): a caller changing an object it
 *   was given changes nothing stored.
 * Limitations: no durability, no size bound (bodies are held whole).
 */
import { Readable } from 'node:stream';
import { isQueueId, MailError, messageIdOfEnvelope, replies, type Envelope, type EnvelopeId, type MessageDraft, type MessageId, type QueueStore } from '../core/index.js';
import { uniqueId } from '../util/index.js';
import { idsAfter } from './queue-ids.js';
import { noSuchMessage } from './storage-error.js';
import { BufferedMessageDraft } from './buffered-draft.js';

interface StoredMessage {
  readonly body: Buffer;
  envelopes: readonly Envelope[];
}

/** The stored data of one in-memory spool; give the same one to several stores to share it. */
export class MemorySpool {
  readonly messages = new Map<MessageId, StoredMessage>();
}

export interface MemoryQueueStoreOptions {
  /** the data to work on (default: a new, empty spool) */
  spool?: MemorySpool;
  /** creates message ids (default util's uniqueId) */
  newId?: () => string;
}

export class MemoryQueueStore implements QueueStore {
  readonly spool: MemorySpool;
  readonly #newId: () => string;
  #closed = false;

  constructor(opts: MemoryQueueStoreOptions = {}) {
    this.spool = opts.spool ?? new MemorySpool();
    this.#newId = opts.newId ?? (() => uniqueId());
  }

  #check(): void {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
  }

  async createMessage(): Promise<MessageDraft> {
    this.#check();
    const id = this.#newId();
    if (!isQueueId(id) || this.spool.messages.has(id)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    return new BufferedMessageDraft(id, async (body, envelopes) => {
      this.spool.messages.set(id, { body, envelopes: structuredClone(envelopes) });
    });
  }

  async openMessage(id: MessageId): Promise<Readable> {
    const m = this.spool.messages.get(id);
    if (!m) throw noSuchMessage(id);
    return Readable.from(m.body.length > 0 ? [m.body] : [], { objectMode: false });
  }

  async messageSize(id: MessageId): Promise<number> {
    const m = this.spool.messages.get(id);
    if (!m) throw noSuchMessage(id);
    return m.body.length;
  }

  /** Every envelope of one message (empty when the message is not in the queue). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    return structuredClone([...(this.spool.messages.get(messageId)?.envelopes ?? [])]);
  }

  async findEnvelope(id: EnvelopeId): Promise<Envelope | undefined> {
    const msg = messageIdOfEnvelope(id);
    const env = msg === undefined ? undefined : this.spool.messages.get(msg)?.envelopes.find((e) => e.id === id);
    return env && structuredClone(env);
  }

  async putEnvelope(env: Envelope): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(env.id);
    if (!msg || msg !== env.messageId) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    const m = this.spool.messages.get(msg);
    const i = m?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
    if (!m || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
    const next = [...m.envelopes];
    next[i] = structuredClone(env);
    m.envelopes = next;
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(id);
    const m = msg === undefined ? undefined : this.spool.messages.get(msg);
    if (!m) return;
    m.envelopes = m.envelopes.filter((e) => e.id !== id);
    // the message goes with its last envelope
    if (m.envelopes.length === 0) this.spool.messages.delete(msg!);
  }

  /** Ids of the queued messages, oldest first. */
  async listMessageIds(): Promise<MessageId[]> {
    return [...this.spool.messages.keys()].sort();
  }

  async *walkEnvelopes(after?: MessageId): AsyncIterable<Envelope> {
    // the ids as they are now; each message's envelopes as they are when the walk reaches it
    for (const id of idsAfter(await this.listMessageIds(), after)) {
      for (const env of this.spool.messages.get(id)?.envelopes ?? []) yield structuredClone(env);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
