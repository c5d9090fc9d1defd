/**
 * @module buffered-draft
 * A MessageDraft that gathers the body in memory and hands body and envelopes to a `save`
 * function at commit: the draft of the in-memory store. The files backend streams to disk
 * instead (fs-message-draft), the PostgreSQL one into chunk rows past 1 MiB (pg-streamed-body,
 * which shares the commit's checks and envelope making with this module). commitImport streams
 * a copied message (`correio migrate`) into either of those drafts.
 * Standards: RFC 5321 §6.1: commit resolves only once `save` has stored the message.
 * Security: envelope ids are made here from the message id (core/envelope.ts envelopeIdOf), never taken from input.
 * Limitations: the body is held whole in memory until commit (bounded by the caller's size
 *   limit, smtp.max_message_size for SMTP).
 */
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { envelopeIdOf, MailError, replies, type Envelope, type EnvelopeInit, type MessageDraft, type MessageId } from '../core/index.js';
import { storageError } from './storage-error.js';

/** Stores a committed message; throws when it could not (the commit then fails). */
export type SaveMessage = (body: Buffer, envelopes: Envelope[]) => Promise<void>;

/** A commit refused before it starts: a draft no longer open, given pieces after its stream, or no recipient. */
export function checkCommit(state: string, inits: readonly EnvelopeInit[], piecesAfterStream: boolean): void {
  if (state !== 'open' || piecesAfterStream) throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
  if (inits.length === 0) throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
}

/** The envelopes of a message of `size` octets, made from their inits. */
export function envelopesOf(id: MessageId, inits: readonly EnvelopeInit[], size: number): Envelope[] {
  // every field of an init is kept as given (unknown ones too): storage does not pick fields
  return inits.map((init, i) => ({
    ...init,
    id: envelopeIdOf(id, i),
    messageId: id,
    size,
    attempts: init.attempts ?? [],
  }));
}

/** A draft that takes envelopes as given (a message copied by `correio migrate`). */
export interface CopyDraft {
  readonly body: Writable;
  abort(): Promise<void>;
  commitCopy(envelopes: readonly Envelope[]): Promise<void>;
}

/** Streams `body` into `draft` (aborted when the stream fails), then commits it with `envelopes` as given. */
export async function commitImport(draft: CopyDraft, body: Readable, envelopes: readonly Envelope[]): Promise<void> {
  try {
    await pipeline(body, draft.body);
  } catch (err) {
    await draft.abort();
    throw storageError(err);
  }
  await draft.commitCopy(envelopes);
}

export class BufferedMessageDraft implements MessageDraft {
  readonly id: MessageId;
  readonly #save: SaveMessage;
  readonly #chunks: Buffer[] = [];
  #body: Writable | undefined;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';

  constructor(id: MessageId, save: SaveMessage) {
    this.id = id;
    this.#save = save;
  }

  get body(): Writable {
    this.#body ??= new Writable({
      write: (chunk: Buffer | string, encoding, cb) => {
        this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
        cb();
      },
    });
    return this.#body;
  }

  /** The header goes before the body held here (this backend holds a message whole anyway). */
  async prepend(header: Buffer): Promise<void> {
    if (this.#state !== 'open') throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    await finished(this.body);
    this.#chunks.unshift(header);
  }

  /** The body held here, as a stream (this backend holds a message whole anyway). */
  written(): Readable {
    return Readable.from([...this.#chunks], { objectMode: false });
  }

  async commit(inits: readonly EnvelopeInit[], whole?: readonly Buffer[]): Promise<Envelope[]> {
    checkCommit(this.#state, inits, whole !== undefined && this.#body !== undefined);
    this.#state = 'committing';
    try {
      if (!whole) await finished(this.body);
      const body = Buffer.concat(whole ?? this.#chunks);
      this.#chunks.length = 0;
      const envelopes = envelopesOf(this.id, inits, body.length);
      await this.#save(body, envelopes);
      this.#state = 'committed';
      return envelopes;
    } catch (err) {
      this.#state = 'aborted';
      throw storageError(err);
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    this.#chunks.length = 0;
    if (this.#body && !this.#body.destroyed) this.#body.destroy();
  }
}
