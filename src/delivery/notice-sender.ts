/**
 * @module notice-sender
 * The dispatcher's notices: pending notices are collected per message while its batches run,
 * then sent once no batch of the message runs, one notice per kind (failure, delay, success)
 * listing every recipient of that kind (RFC 3464: one report, many recipients). Each envelope is
 * then settled through the transitions: noticeSent (done, or back to deferred after a delay
 * warning) or noticeFailed (kept pending and tried again when the policy says).
 * Standards: RFC 3461 §6 (which notices), RFC 3464 (per-recipient reports).
 * Security: the notifier decides where a notice about "<>" mail goes (postmaster), never "<>".
 * Limitations: none.
 */
import type {
  Clock, DeliveryReport, DeliveryStatus, Envelope, EnvelopeId, MessageId, NoticeKind, Notifier, Scheduler, StatedEnvelope,
} from '../core/index.js';
import { noticeFailed, noticeSent } from '../queue/index.js';

export interface PendingNotice {
  readonly kind: NoticeKind;
  /** the envelope the report describes */
  readonly envelope: Envelope;
  readonly result: DeliveryStatus;
}

export interface NoticeSenderOptions {
  readonly notifier: Notifier;
  readonly policy: Scheduler;
  readonly clock: Clock;
  /** the envelope as the dispatcher knows it now */
  current(id: EnvelopeId): StatedEnvelope | undefined;
  /** deleted by the operator meanwhile */
  cancelled(id: EnvelopeId): boolean;
  put(env: StatedEnvelope): Promise<void>;
  remove(id: EnvelopeId): Promise<void>;
  /** the envelope's notice is settled: it may be scheduled again */
  free(id: EnvelopeId): void;
  error(err: unknown, where: string): void;
}

export class NoticeSender {
  readonly #opts: NoticeSenderOptions;
  readonly #pending = new Map<MessageId, PendingNotice[]>();

  constructor(opts: NoticeSenderOptions) {
    this.#opts = opts;
  }

  add(p: PendingNotice): void {
    let list = this.#pending.get(p.envelope.messageId);
    if (!list) this.#pending.set(p.envelope.messageId, (list = []));
    list.push(p);
  }

  isPending(messageId: MessageId, id: EnvelopeId): boolean {
    return this.#pending.get(messageId)?.some((p) => p.envelope.id === id) ?? false;
  }

  /** Sends the message's collected notices, one per kind, then settles each envelope. */
  async send(messageId: MessageId): Promise<void> {
    const pending = this.#pending.get(messageId);
    if (!pending) return;
    this.#pending.delete(messageId);
    for (const kind of ['failure', 'delay', 'success'] as const) {
      const batch = pending.filter((p) => p.kind === kind);
      if (batch.length === 0) continue;
      let sent = true;
      try {
        const reports: DeliveryReport[] = batch.map((p) => ({ envelope: p.envelope, result: p.result }));
        await this.#opts.notifier.notify(kind, messageId, reports);
      } catch (err) {
        sent = false;
        this.#opts.error(err, `${kind} notice for ${messageId}`);
      }
      const now = this.#opts.clock.now();
      for (const p of batch) {
        try {
          await this.#settle(p, sent, now);
        } catch (err) {
          this.#opts.error(err, `settling ${p.envelope.id}`);
        } finally {
          this.#opts.free(p.envelope.id);
        }
      }
    }
  }

  async #settle(p: PendingNotice, sent: boolean, now: number): Promise<void> {
    const o = this.#opts;
    const id = p.envelope.id;
    const env = o.current(id);
    if (!env) return;
    if (o.cancelled(id)) {
      await o.remove(id);
      return;
    }
    const next = sent ? noticeSent(env, p.kind, now) : noticeFailed(env, p.kind, now, o.policy);
    if (next) await o.put(next);
    else await o.remove(id);
  }
}
