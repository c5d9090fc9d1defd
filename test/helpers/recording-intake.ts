/**
 * @module test-recording-intake
 * An Intake for server tests: records transactions and streams each body to a file in its own
 * temp dir. "jacques" is an unknown user (550 5.1.1, the seed's figure 5). Relay control is the
 * server's policy (policy/ relay-control), as in service: pass `isLocalDomain` to the SmtpServer
 * for it; this intake accepts any other recipient.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import type {
  AcceptedRecipient, Address, DsnParams, Intake, IntakeResult, IntakeTransaction, MailParams, ReversePath, SessionInfo,
} from '../../src/core/index.js';
import { MailError, replies } from '../../src/core/index.js';

export interface RecordedMessage {
  readonly tx: IntakeTransaction;
  readonly file: string;
  readonly size: number;
  readonly chunks: number;
}

export class RecordingIntake implements Intake {
  readonly messages: RecordedMessage[] = [];
  readonly senders: { session: SessionInfo; sender: ReversePath; mail: MailParams }[] = [];
  readonly recipients: { session: SessionInfo; rcpt: Address; dsn: DsnParams }[] = [];
  /** called with each body chunk as it arrives (may return a promise to slow reading down) */
  onChunk: ((chunk: Buffer) => void | Promise<void>) | undefined;
  /** makes receive fail with this error (after reading the body) */
  failWith: unknown;
  private count = 0;

  private constructor(
    readonly dir: string,
    readonly localDomains: readonly string[],
  ) {}

  static async create(localDomains: readonly string[] = ['dc.uece.br', 'localhost']): Promise<RecordingIntake> {
    return new RecordingIntake(await mkdtemp(join(tmpdir(), 'correio-intake-')), localDomains);
  }

  async checkSender(session: SessionInfo, sender: ReversePath, mail: MailParams): Promise<void> {
    this.senders.push({ session, sender, mail });
  }

  /** the local domains, for the server's relay control (SmtpServerOptions.isLocalDomain) */
  readonly isLocalDomain = (domain: string): Promise<boolean> => Promise.resolve(this.localDomains.includes(domain));

  async checkRecipient(session: SessionInfo, _sender: ReversePath, rcpt: Address, dsn: DsnParams): Promise<AcceptedRecipient> {
    if (rcpt.local === 'jacques') throw new MailError(replies.noSuchUser());
    this.recipients.push({ session, rcpt, dsn });
    return { address: rcpt, dsn, targets: [] };
  }

  /** bodies the session handed over whole (small DATA bodies), as against streamed */
  wholeBodies = 0;

  /** how many times receive() was called */
  get receiveCalls(): number {
    return this.count;
  }

  async receive(tx: IntakeTransaction, message: Readable | Buffer, signal?: AbortSignal): Promise<IntakeResult> {
    if (Buffer.isBuffer(message)) this.wholeBodies++;
    const body = Buffer.isBuffer(message) ? Readable.from([message]) : message;
    const id = `m${++this.count}`;
    const file = join(this.dir, id);
    let size = 0;
    let chunks = 0;
    const onChunk = this.onChunk;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        chunks++;
        const r = onChunk?.(chunk);
        if (r) r.then(() => cb(null, chunk), cb);
        else cb(null, chunk);
      },
    });
    await pipeline(body, counter, createWriteStream(file), { signal });
    if (this.failWith !== undefined) throw this.failWith;
    this.messages.push({ tx, file, size, chunks });
    return { messageId: id, reply: replies.ok() };
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
