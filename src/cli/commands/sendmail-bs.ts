/**
 * @module sendmail-bs
 * `sendmail -bs`: an SMTP session over standard input and output, for programs that speak SMTP
 * to a local MTA (mutt's smtp mode, some MUAs and test tools). The same SmtpSession as the
 * network services runs on a Duplex made of stdin and stdout; no socket is faked.
 * Standards: RFC 5321 (the session), sendmail(8) -bs.
 * Security: a trusted local submission as the invoking user (no AUTH offered; the login name is
 *   recorded as the authenticated user, as for `sendmail` without -bs). A user who may not write
 *   the spool gets the same session over the maildrop: each message a maildrop file, whose
 *   owner the pickup takes as the submitter (MAIL FROM binds `trusted_users` only).
 * Limitations: no STARTTLS (there is no network to protect). Through the maildrop, RCPT asks the
 *   running server (public.sock) or, with the server down, the directory if this user may read
 *   it: an unknown recipient gets the server's 550. With the server down and the directory
 *   unreadable, RCPT accepts every well-formed address and an unknown one becomes a bounce.
 */
import { Duplex, Readable } from 'node:stream';
import { MailError, addressToString, replies, type Intake, type SessionInfo } from '../../core/index.js';
import { writeMaildrop } from '../../app/index.js';
import type { Config } from '../../config/index.js';
import { CidrList } from '../../address/index.js';
import { SmtpSession } from '../../server/smtp/smtp-session.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import type { CliContext } from '../cli-context.js';
import { lfToCrlf } from './sendmail-input.js';
import { invokingUser, wake, withBackends } from './sendmail-runtime.js';
import { submitsThroughMaildrop } from './sendmail-maildrop.js';
import { verifyLocally } from './local-verify.js';

/**
 * stdin and stdout as one Duplex, the stream an SmtpSession runs on for -bs (no socket). Lines
 * read are made CRLF. At the end of input the session is given a QUIT (after a CRLF if the
 * last line had none) so that every command already read is answered; during DATA the end of
 * input abandons the transaction. Destroying it leaves stdout open (the process still logs).
 */
class StdioDuplex extends Duplex {
  private readonly toCrlf = lfToCrlf();
  private lastByte = 0x0a;

  constructor(
    private readonly input: CliContext['stdin'],
    private readonly output: CliContext['stdout'],
  ) {
    super({ allowHalfOpen: true });
    input.on('data', (chunk: Buffer | string) => {
      const b = this.toCrlf(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (b.length > 0) this.lastByte = b[b.length - 1];
      if (!this.push(b)) input.pause();
    });
    input.on('end', () => {
      this.push(Buffer.from(this.lastByte === 0x0a ? 'QUIT\r\n' : '\r\nQUIT\r\n'));
      this.push(null);
    });
    input.on('error', (err) => this.destroy(err));
  }
  override _read(): void {
    this.input.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.output.write(chunk, (err) => done(err));
  }
  override _final(done: (err?: Error | null) => void): void {
    // stdout stays open: the process may still write to it
    done();
  }
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.input.pause();
    done(err);
  }
}

/**
 * The intake of a user who may not write the spool: each accepted message becomes a maildrop
 * file (app/maildrop.ts). Recipients are checked as the server would (see checkRecipient); the
 * pickup resolves them again and decides the sender from the file's owner, so MAIL FROM binds
 * only `trusted_users` (as -f does).
 */
function maildropIntake(config: Config): Intake {
  return {
    checkSender: async () => undefined,
    // RFC 5321 §3.3: an unknown recipient is refused at RCPT, as the server would refuse it: the
    // server answers on public.sock, or the directory is read here when this user may
    // (local-verify.ts); when neither can answer, the pickup resolves it (a bounce)
    checkRecipient: async (_s, _sender, rcpt, dsn) => {
      const r = await verifyLocally(config, [addressToString(rcpt)]).catch(() => undefined);
      const v = r !== undefined && 'verdicts' in r ? r.verdicts[0] : undefined;
      if (v !== undefined && !v.deliverable) throw new MailError(v.smtp ?? replies.noSuchUser());
      return { address: rcpt, dsn, targets: [] };
    },
    receive: async (tx, body) => {
      const notify = tx.recipients.find((r) => r.dsn.notify !== undefined)?.dsn.notify;
      const { ret, envid, smtpUtf8 } = tx.mail;
      const bodyType = tx.mail.body === '7BIT' || tx.mail.body === '8BITMIME' ? tx.mail.body : undefined;
      const name = await writeMaildrop(
        config,
        {
          sender: tx.sender === null ? '' : addressToString(tx.sender),
          recipients: tx.recipients.map((r) => addressToString(r.address)),
          ...(notify && { notify }),
          mail: { ...(bodyType && { body: bodyType }), ...(ret && { ret }), ...(envid !== undefined && { envid }), ...(smtpUtf8 && { smtpUtf8 }) },
        },
        Buffer.isBuffer(body) ? Readable.from([body]) : (body as AsyncIterable<Buffer>),
      );
      return { messageId: name, reply: replies.queued(name) };
    },
  };
}

/** The -bs path: an SMTP session (RFC 5321) over stdin/stdout, as a trusted local submission. */
export async function smtpOnStdio(ctx: CliContext, config: Config): Promise<void> {
  if (submitsThroughMaildrop(config)) {
    await runSession(ctx, config, maildropIntake(config));
    return;
  }
  const login = invokingUser(ctx.env);
  let queued = 0;
  await withBackends(config, async (b) => {
    // The session's own SessionInfo describes a network client; this one is the local user.
    const local = (s: SessionInfo, withAuth = true): SessionInfo => ({
      protocol: s.protocol,
      heloName: s.heloName,
      mayRelay: true,
      submission: true,
      ...(withAuth ? { authUser: login } : {}),
    });
    const intake: Intake = {
      checkSender: (s, sender, mail) => b.intake.checkSender(local(s, false), sender, mail),
      checkRecipient: (s, sender, rcpt, dsn) => b.intake.checkRecipient(local(s), sender, rcpt, dsn),
      receive: async (tx, body, signal) => {
        const r = await b.intake.receive({ ...tx, session: local(tx.session) }, body, signal);
        queued++;
        return r;
      },
    };
    await runSession(ctx, config, intake);
  });
  if (queued > 0) await wake(config);
}

/** One SMTP submission session over stdin/stdout with `intake`. */
async function runSession(ctx: CliContext, config: Config, intake: Intake): Promise<void> {
    const session = new SmtpSession(new StdioDuplex(ctx.stdin, ctx.stdout), {
      intake,
      hostname: config.hostname,
      mode: 'submission',
      maxMessageSize: config.smtp.maxMessageSize,
      maxRecipients: config.smtp.maxRecipients,
      commandTimeoutMs: config.smtp.commandTimeout,
      // the end of input ends an unfinished DATA at once (the session sees its stream end)
      dataTimeoutMs: config.smtp.dataTimeout,
      minDataRate: config.smtp.minDataRate,
      maxErrors: 20,
      trusted: new CidrList([]),
      authRequired: false,
      allowPlainAuthWithoutTls: false,
      authFailureDelayMs: 0,
      // no authenticate hook: AUTH is not offered on -bs, so the throttle is never consulted
      authThrottle: new AuthThrottle(),
    });
    await session.run();
}
