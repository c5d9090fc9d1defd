/**
 * @module body-sink
 * The bridge from the socket to intake.receive for one transaction: a Readable the intake
 * consumes with backpressure, the pending intake result, and the abort signal; or, for a small
 * body collected whole, WholeBody.
 * Standards: RFC 5321 §4.1.1.4 (the reply after the end of data is the transaction's result).
 * Security: a streamed body (past 64 KB) is never buffered whole: `write` waits until the intake
 *   has read what it was given (or gave up); a body flaw destroys the stream so intake aborts its
 *   draft. WholeBody holds at most those 64 KB.
 * Limitations: none.
 */
import { Readable } from 'node:stream';
import type { Intake, IntakeResult, IntakeTransaction } from '../../core/intake.js';
import { MailError, replyForError, type SmtpReply } from '../../core/smtp-reply.js';
import { MemoryReclaimer } from '../../util/index.js';

type Outcome = { ok: IntakeResult } | { err: unknown };

/** The end of a transaction's body: the reply to send, with the intake's result or error. */
export interface BodyOutcome {
  readonly reply: SmtpReply;
  readonly result?: IntakeResult;
  readonly error?: unknown;
}

export class BodySink {
  private readonly body: Readable;
  private readonly ac = new AbortController();
  private readonly pending: Promise<Outcome>;
  private settled = false;
  private wantMore: (() => void) | undefined;
  /** true once the body can take no more (flawed, failed, or the intake stopped reading) */
  dead = false;
  /** octets handed to the intake */
  size = 0;
  private readonly reclaimer = new MemoryReclaimer();

  constructor(intake: Intake, tx: IntakeTransaction, highWaterMark = 64 * 1024) {
    this.body = new Readable({
      highWaterMark,
      read: () => this.wake(),
    });
    let p: Promise<IntakeResult>;
    try {
      p = intake.receive(tx, this.body, this.ac.signal);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.pending = p.then(
      (ok): Outcome => ({ ok }),
      (err: unknown): Outcome => ({ err }),
    );
    void this.pending.then(() => {
      this.settled = true;
      this.dead = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.wantMore;
    this.wantMore = undefined;
    w?.();
  }

  /**
   * Hands body pieces to the intake; resolves true when it may take more (or the intake stopped
   * reading), false when it did not read for `timeoutMs` or `gone` resolved first.
   */
  async write(pieces: readonly Buffer[], timeoutMs: number, gone: Promise<void>): Promise<boolean> {
    if (this.dead) return true;
    let more = true;
    for (const p of pieces) {
      this.size += p.length;
      this.reclaimer.account(p.length);
      more = this.body.push(p);
    }
    if (more || this.dead) return true;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.wantMore = () => resolve(true);
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
      gone.then(() => false),
    ]);
    clearTimeout(timer);
    this.wantMore = undefined;
    return r;
  }

  /** Refuses the body: the intake sees the stream fail with this reply and aborts its draft. */
  fail(reply: SmtpReply): void {
    if (this.dead) return;
    this.dead = true;
    this.body.destroy(new MailError(reply, 'MAIL_ERR_BODY'));
  }

  /** The connection went away or the transaction was reset: abort everything. */
  async abort(): Promise<void> {
    this.ac.abort();
    this.fail({ code: 421, status: '4.4.2', lines: ['Connection lost'] });
    await this.pending;
  }

  /** Ends the body and returns the intake's reply (or the reply for its error). */
  async finish(): Promise<BodyOutcome> {
    if (!this.dead) {
      this.dead = true;
      this.body.push(null);
    }
    const o = await this.pending;
    if ('ok' in o) return { reply: o.ok.reply, result: o.ok };
    return { reply: replyForError(o.err), error: o.err };
  }

  get intakeSettled(): boolean {
    return this.settled;
  }
}

/**
 * A body the session collected whole (a small DATA body), with BodySink's face: the intake gets
 * it as one Buffer at finish(), with no stream and no concurrent intake; a refused body never
 * reaches the intake.
 */
export class WholeBody {
  #refusal: SmtpReply | undefined;

  constructor(
    private readonly intake: Intake,
    private readonly tx: IntakeTransaction,
    private readonly pieces: readonly Buffer[],
  ) {}

  fail(reply: SmtpReply): void {
    this.#refusal ??= reply;
  }

  async finish(): Promise<BodyOutcome> {
    if (this.#refusal) return { reply: this.#refusal, error: new MailError(this.#refusal, 'MAIL_ERR_BODY') };
    try {
      const result = await this.intake.receive(this.tx, this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces));
      return { reply: result.reply, result };
    } catch (error) {
      return { reply: replyForError(error), error };
    }
  }
}
