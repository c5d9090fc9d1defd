/**
 * @module queue-store
 * The spool: messages stored once, envelopes per recipient. Storage only; timing is the scheduler's.
 * Standards: RFC 5321 §6.1 (reliable delivery: accept only what is safely stored).
 * Security: commit() returns only when message and envelopes survive a crash or power loss.
 * Limitations: none.
 */
import type { Readable, Writable } from 'node:stream';
import type { Envelope, EnvelopeId, EnvelopeInit, EnvelopeState, MessageId } from './envelope.js';

export interface MessageDraft {
  readonly id: MessageId;
  /** the body, streamed; invisible to everyone until commit */
  readonly body: Writable;
  /**
   * Makes message and envelopes durable at once (all or nothing). Call after body has finished,
   * or, for a message already whole in memory, give its pieces here and leave `body` untouched.
   */
  commit(envelopes: readonly EnvelopeInit[], body?: readonly Buffer[]): Promise<Envelope[]>;
  /** Discards the draft; safe to call more than once and after a failed commit. */
  abort(): Promise<void>;
  /**
   * Once `body` has finished, puts `header` before everything written to it (header fields
   * known only after the body went by, e.g. a DKIM signature over it); commit then stores
   * header and body as one message, as durably as ever.
   */
  prepend(header: Buffer): Promise<void>;
  /**
   * Once `body` has finished (and before prepend), everything written to it, read again from
   * where the draft keeps it (its file once past what it holds in memory): an end-of-data check
   * that sends the message elsewhere (rspamd) reads it here instead of holding it.
   */
  written(): Readable;
}

/**
 * Claims on envelopes, for a queue that several nodes deliver from (the PostgreSQL backend).
 * A node delivers an envelope only while it holds its lease; the lease carries a fencing token,
 * and while it is held the store writes that envelope's outcome (putEnvelope, deleteEnvelope)
 * only if the token is still the current one, so a node whose lease expired and was taken over
 * cannot overwrite the new holder's result. The store renews held leases (a heartbeat) until
 * they are released; a node that dies stops renewing, and its leases expire.
 */
export interface EnvelopeLeases {
  /**
   * Claims those of `ids` that no live lease holds; returns them as they are stored now (the
   * caller checks that they are still what it meant to deliver). Others are left alone.
   */
  claim(ids: readonly EnvelopeId[]): Promise<Envelope[]>;
  /** Gives up the leases on `ids` (after their outcome is stored); unknown ids are ignored. */
  release(ids: readonly EnvelopeId[]): Promise<void>;
  /**
   * Optional: what a node's rescan must learn since `cursor` (from an earlier call), instead of
   * reading the whole queue: envelopes added or changed by anyone, envelopes whose lease ran
   * out unreleased (their holder died), and ids of envelopes that left the queue. `full` when
   * there is no usable cursor (undefined, or too old): the caller reads the whole queue
   * instead, and the returned cursor (taken before that read) is valid for the next call.
   */
  changesSince?(cursor: string | undefined): Promise<QueueChanges>;
  /**
   * Optional: one of the `limit` slots of `route` (a destination), counted across every node
   * sharing the queue, so a per-destination connection limit holds for all of them; the
   * release function, or undefined when all are taken. A slot lasts as a lease does: a dead
   * node's slots come back when they run out.
   */
  routeSlot?(route: string, limit: number): Promise<(() => Promise<void>) | undefined>;
}

export interface QueueChanges {
  readonly cursor: string;
  readonly full: boolean;
  readonly changed: readonly Envelope[];
  readonly gone: readonly EnvelopeId[];
}

export interface QueueStore {
  /** present when several nodes share the queue: deliver only what was claimed */
  readonly leases?: EnvelopeLeases;
  createMessage(): Promise<MessageDraft>;
  openMessage(id: MessageId): Promise<Readable>;
  /** size in octets of the stored message */
  messageSize(id: MessageId): Promise<number>;
  findEnvelope(id: EnvelopeId): Promise<Envelope | undefined>;
  /** every envelope of one message, in recipient order (empty when it is not queued) */
  findMessageEnvelopes(id: MessageId): Promise<Envelope[]>;
  /**
   * ids of the queued messages in id order (oldest first: ids begin with their creation time),
   * without reading any envelope: what a paged listing starts from
   */
  listMessageIds(): Promise<MessageId[]>;
  /** atomic replace of an existing envelope */
  putEnvelope(env: Envelope): Promise<void>;
  /** removes an envelope; the message goes with its last envelope */
  deleteEnvelope(id: EnvelopeId): Promise<void>;
  /**
   * every committed envelope, in message-id order (a message's envelopes together); with `after`,
   * only those of the messages whose id sorts after it (the next page of a listing). `limit` is a
   * hint: the caller reads no more than that many messages (a page), so a store may list only
   * those. Used for recovery at start and by queue listings.
   */
  walkEnvelopes(after?: MessageId, limit?: number): AsyncIterable<Envelope>;
  /**
   * Optional: every committed envelope (a message's together) in no particular order, holding
   * memory bounded whatever the queue's size (no listing of it whole): for walks that need no
   * order, such as the runner's start without a saved schedule. A store
   * without it is walked with walkEnvelopes().
   */
  scanEnvelopes?(): AsyncIterable<Envelope>;
  /** Optional: ids of the queued messages in no particular order, memory bounded as scanEnvelopes' (a store without it: listMessageIds()). */
  scanMessageIds?(): AsyncIterable<MessageId>;
  /**
   * Optional: calls `onMessage` with the id of a message that appeared or changed (a hint; it
   * may be this process's own write, or coalesced or lost); returns a function that stops it.
   * A runner over a store without it finds other processes' messages by rescans only.
   */
  watchNew?(onMessage: (id: MessageId) => void): () => void;
  /**
   * Optional: the runner's schedule saved at its last clean stop, taken once (removed for good
   * when this resolves, so that a crash later finds none); undefined when there is none: the
   * runner then reads every envelope (walkEnvelopes). Messages added since are not in it.
   */
  takeSchedule?(): Promise<readonly ScheduleEntry[] | undefined>;
  /** Optional: saves the runner's schedule at a clean stop, for takeSchedule at the next start. */
  saveSchedule?(entries: Iterable<ScheduleEntry>): Promise<void>;
  close(): Promise<void>;
}

/** One envelope of a saved schedule: when the runner looks at it next (0: at once; Infinity: held, never by itself). */
export interface ScheduleEntry {
  readonly id: EnvelopeId;
  readonly at: number;
  /** its state when saved (a schedule saved by an older correio has none: held when `at` is Infinity, else deferred, until it is read) */
  readonly state?: EnvelopeState;
}
