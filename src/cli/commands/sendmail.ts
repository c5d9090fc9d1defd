/**
 * @module sendmail-command
 * `correio sendmail` (installed as `sendmail`): local submission with the flags cron, PHP, git
 * and mutt use. The message is read from standard input and handed to intake, which writes it
 * into the spool; no running server is needed (the server picks the message up when it starts,
 * or at once when it runs: it is woken through the control socket). Exit status 0 only once the
 * message is durable.
 *
 *   -t            recipients also from To/Cc/Bcc (Resent-To/Cc/Bcc when present); arguments are
 *                 added to them (Postfix behaviour)
 *   -i, -oi       a line holding only "." does not end the input (without it, it does)
 *   -f FROM, -r   envelope sender ("<>" or "" for the null sender); default: the invoking user
 *   -F NAME       full name for a From: field that correio adds when the message has none
 *   -bm           deliver mail (default); -bs: SMTP on stdin/stdout; -bv: verify recipients only;
 *   -bp           list the queue (mailq); -q: flush the queue once
 *   -N DSN        NOTIFY (never, or success,failure,delay); -R full|hdrs; -V ENVID; -B 8BITMIME
 *   -C FILE       configuration file (as --config)
 *   -v            tell on stderr what happened (queue id, recipients)
 *   -oX, -dX, -e X, -h N, -L, -O, -p, -X, -G, -U, -n, -m, -x, -c: accepted and ignored
 *   --help        usage (a lone -h too); answered by main before this parser (faces.ts)
 *
 * Recipients: each argument is an address (RFC 5322 forms such as "Name <a@b>" and comma lists
 * are accepted); a name without @domain gets the primary local domain. Bcc, Resent-Bcc,
 * Return-Path and Content-Length fields are removed from every message (as Postfix's cleanup(8)
 * does); Received, Message-ID and Date are added by intake (submission).
 * Refused recipients: when some recipients are refused permanently (no such user: 550 5.1.1),
 * the message is still queued for the others, each refused one is named on stderr, and the exit
 * status is 67 (EX_NOUSER; 69 EX_UNAVAILABLE for refusals other than a bad address), as sendmail
 * 8 does. A temporary failure (4xx) for any recipient queues nothing and exits 75.
 * Exit statuses (sysexits(3)): 64 usage or no recipients, 65 unparsable address or bad message,
 * 66 unreadable input, 67 unknown user, 69 refused, 75 temporary failure (try again), 78 on the
 * embedded defaults away from their data directory (none is made: cli-context requireInstallation).
 *
 * Files: sendmail-args.ts parses the command line, sendmail-input.ts reads the message,
 * sendmail-addresses.ts reads the addresses, sendmail-bs.ts is -bs, sendmail-runtime.ts opens
 * the spool and wakes the server; this file chooses the recipients and hands the message to
 * intake.
 *
 * Standards: sendmail(8) and Postfix sendmail(1) command line; RFC 5322 §3.6.2 (From),
 *   §3.6.3 (Bcc), §3.6.6 (Resent-*); RFC 6409 §8 (submission adds Date and Message-ID);
 *   RFC 3461 (-N, -R, -V); RFC 5321 (-bs); RFC 2047 (an encoded -F name); sysexits(3).
 * Security: root and the data directory's owner write the spool and may set any envelope sender;
 *   any other local user submits through the maildrop (sendmail-maildrop.ts), where -f is for
 *   `trusted_users` only. The login name is recorded as the authenticated user. The header
 *   block is buffered up to 1 MB only; the body is streamed.
 * Limitations: -bd (daemon: use `correio serve`), -bi/-I (use `correio newaliases`) and -q with
 *   an interval are refused with status 64; -N/-R/-V apply to every recipient.
 */
import { Readable } from 'node:stream';
import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import {
  MailError,
  addressToString,
  formatReply,
  routeKey,
  targetRoute,
  type AcceptedRecipient,
  type Address,
  type DsnParams,
  type Intake,
  type MailParams,
  type ReversePath,
  type SessionInfo,
} from '../../core/index.js';
import { loadConfig, type Config } from '../../config/index.js';
import { verifyLocally } from './local-verify.js';
import { CliError, exitCodes, requireInstallation, type CliContext } from '../cli-context.js';
import { becomeDataDirOwner } from '../run-as.js';
import { listCommand, queueAction } from './queue.js';
import { SendmailInputError, normalizeInput, splitMessage } from './sendmail-input.js';
import { parseSendmailArgs, usage, type SendmailOptions } from './sendmail-args.js';
import { smtpOnStdio } from './sendmail-bs.js';
import { addressesIn, dedupe, displayName, envelopeAddress, headerRecipients, parseSender } from './sendmail-addresses.js';
import { quoteLocalPart } from '../../address/index.js';

export { addressesIn, displayName, headerRecipients, splitAddressList } from './sendmail-addresses.js';
import { invokingUser, wake, withBackends } from './sendmail-runtime.js';
import { dropMessage, maildropSenderOption, realLogin, submitsThroughMaildrop } from './sendmail-maildrop.js';

/** sysexits(3) EX_UNAVAILABLE: a recipient refused for a reason other than an unknown user. */
const EX_UNAVAILABLE = 69;

/** Header fields removed from every locally submitted message (Postfix cleanup(8)). */
const removedFields = new Set(['bcc', 'resent-bcc', 'return-path', 'content-length']);

function configFor(ctx: CliContext, cmd: Command, opts: SendmailOptions): Config {
  return opts.config !== undefined ? loadConfig({ path: opts.config, env: ctx.env, cwd: ctx.cwd }) : ctx.config(cmd);
}

function hasNonAscii(a: Address): boolean {
  return /[^\x00-\x7f]/.test(addressToString(a));
}

interface Refusal {
  address: Address;
  reply: MailError['reply'];
}

function refusalStatus(refused: readonly Refusal[]): number {
  return refused.every((r) => r.reply.status?.startsWith('5.1.') ?? r.reply.code === 550) ? exitCodes.noUser : EX_UNAVAILABLE;
}

/** Checks each recipient with intake; a temporary failure for any one aborts (75). */
async function checkRecipients(
  intake: Intake,
  session: SessionInfo,
  sender: ReversePath,
  recipients: readonly Address[],
  dsn: DsnParams,
): Promise<{ accepted: AcceptedRecipient[]; refused: Refusal[] }> {
  const accepted: AcceptedRecipient[] = [];
  const refused: Refusal[] = [];
  for (const r of recipients) {
    try {
      accepted.push(await intake.checkRecipient(session, sender, r, dsn));
    } catch (err) {
      if (err instanceof MailError && !err.temporary) refused.push({ address: r, reply: err.reply });
      else if (err instanceof MailError) throw new CliError(`${addressToString(r)}: ${formatReply(err.reply)}`, exitCodes.tempFail);
      else throw err;
    }
  }
  return { accepted, refused };
}

/**
 * Refuses a standard input that cannot be a message: closed, or a directory (node reads a
 * directory as an empty stream, which would queue an empty message).
 */
function checkStdin(ctx: CliContext): void {
  if (ctx.stdin !== process.stdin) return;
  let isDirectory: boolean;
  try {
    isDirectory = fstatSync(0).isDirectory();
  } catch {
    throw new SendmailInputError('cannot read the message: standard input is closed', exitCodes.noInput);
  }
  if (isDirectory) throw new SendmailInputError('cannot read the message: standard input is a directory', exitCodes.noInput);
}

/** The -bm path: read, check, queue. */
async function deliver(ctx: CliContext, config: Config, o: SendmailOptions): Promise<void> {
  const primary = config.localDomains[0];
  // a user who may not write the spool submits through the maildrop, as the real uid's account
  const viaMaildrop = submitsThroughMaildrop(config);
  const login = viaMaildrop ? realLogin() : invokingUser(ctx.env);
  const sender = parseSender(viaMaildrop ? maildropSenderOption(ctx, config, o.from, login) : o.from, login, primary);
  const argRecipients = o.recipients.flatMap((r) => addressesIn(r, primary));
  if (!o.extract && argRecipients.length === 0) throw usage('no recipients given (name them, or use -t to take them from the message header)');
  checkStdin(ctx);

  const split = await splitMessage(normalizeInput(ctx.stdin as AsyncIterable<Buffer>, !o.ignoreDots));
  const fields = split.fields;
  const recipients = dedupe([...(o.extract ? headerRecipients(fields, primary) : []), ...argRecipients]);
  if (recipients.length === 0) throw usage('no recipient addresses found in the message header');

  // The header as stored: Bcc and friends removed, a From: added when missing.
  const kept = fields.filter((f) => !removedFields.has(f.name)).map((f) => f.raw);
  if (!fields.some((f) => f.name === 'from')) {
    const addr = sender ?? envelopeAddress(`${quoteLocalPart(login)}@${primary}`, primary, 'sender');
    const name = o.fullName !== undefined && o.fullName.trim() !== '' ? `${displayName(o.fullName)} ` : '';
    kept.push(Buffer.from(`From: ${name}<${addressToString(addr)}>`, 'utf8').toString('latin1'));
  }
  const headBytes = Buffer.from(kept.map((l) => `${l}\r\n`).join('') + '\r\n', 'latin1');
  const body = split.body;
  const message = Readable.from(
    (async function* () {
      yield headBytes;
      yield* body;
    })(),
    { objectMode: false },
  );

  const session: SessionInfo = { protocol: 'local', mayRelay: true, submission: true, authUser: login };
  const dsn: DsnParams = o.notify ? { notify: o.notify } : {};
  const mail: MailParams = {
    ...(o.body ? { body: o.body } : {}),
    ...(o.ret ? { ret: o.ret } : {}),
    ...(o.envid !== undefined ? { envid: o.envid } : {}),
    ...(recipients.some(hasNonAscii) || (sender !== null && hasNonAscii(sender)) ? { smtpUtf8: true } : {}),
  };

  if (viaMaildrop) {
    return dropMessage(ctx, config, { sender, recipients, ...(o.notify && { notify: o.notify }), mail, verbose: o.verbose }, message);
  }
  const outcome = await withBackends(config, async (b) => {
    // Sender checks without the login as AUTH identity: a local user may set any sender.
    await b.intake.checkSender({ protocol: 'local', mayRelay: true, submission: true }, sender, mail);
    const { accepted, refused } = await checkRecipients(b.intake, session, sender, recipients, dsn);
    if (accepted.length === 0) {
      message.destroy();
      return { refused, id: undefined };
    }
    try {
      const r = await b.intake.receive({ session, sender, mail, recipients: accepted }, message);
      return { refused, id: r.messageId, accepted };
    } catch (err) {
      if (err instanceof SendmailInputError || err instanceof MailError) throw err;
      throw new CliError(`cannot store the message: ${err instanceof Error ? err.message : String(err)}`, exitCodes.tempFail);
    }
  });

  for (const r of outcome.refused) ctx.stderr.write(`correio: ${addressToString(r.address)}: ${formatReply(r.reply)}\n`);
  if (outcome.id === undefined) {
    process.exitCode = refusalStatus(outcome.refused);
    return;
  }
  const running = await wake(config);
  if (o.verbose) {
    for (const a of outcome.accepted ?? []) ctx.stderr.write(`correio: ${addressToString(a.address)}: accepted\n`);
    ctx.stderr.write(`correio: queued as ${outcome.id}${running ? '' : ' (no server running: delivered when it starts)'}\n`);
  }
  if (outcome.refused.length > 0) process.exitCode = refusalStatus(outcome.refused);
}

/** The -bv path: how each recipient resolves; nothing is read or queued (except the header for -t). */
async function verify(ctx: CliContext, config: Config, o: SendmailOptions): Promise<void> {
  const primary = config.localDomains[0];
  const login = invokingUser(ctx.env);
  const sender = parseSender(o.from, login, primary);
  let recipients = o.recipients.flatMap((r) => addressesIn(r, primary));
  if (o.extract) {
    checkStdin(ctx);
    const split = await splitMessage(normalizeInput(ctx.stdin as AsyncIterable<Buffer>, !o.ignoreDots));
    await split.body.return(undefined);
    recipients = [...headerRecipients(split.fields, primary), ...recipients];
  }
  recipients = dedupe(recipients);
  if (recipients.length === 0) throw usage('no recipients given');
  if (submitsThroughMaildrop(config)) return verifyThroughServer(ctx, config, recipients);
  let bad = 0;
  await withBackends(config, async (b) => {
    for (const r of recipients) {
      const name = addressToString(r);
      let targets;
      try {
        targets = await b.resolver.resolve(r, { sender });
      } catch (err) {
        if (err instanceof MailError) throw new CliError(`${name}: ${formatReply(err.reply)}`, exitCodes.tempFail);
        throw err;
      }
      for (const t of targets) {
        const via = t.via.length > 0 ? ` (via ${t.via.join(' -> ')})` : '';
        switch (t.kind) {
          case 'mailbox':
            ctx.print(`${name}: deliverable: local mailbox ${t.user}${via}`);
            break;
          case 'remote':
            ctx.print(`${name}: deliverable: remote ${addressToString(t.address)} via ${routeKey(targetRoute(t))}${via}`);
            break;
          case 'pipe':
            ctx.print(`${name}: deliverable: pipe to ${JSON.stringify(t.command)}${via}`);
            break;
          case 'file':
            ctx.print(`${name}: deliverable: file ${t.path}${via}`);
            break;
          case 'list':
            ctx.print(`${name}: deliverable: list ${t.list} (${t.members.length} members)${via}`);
            break;
          case 'webhook':
            ctx.print(`${name}: deliverable: webhook ${t.url}${via}`);
            break;
          case 'error':
            ctx.print(`${name}: undeliverable: ${formatReply(t.reply)}${via}`);
            break;
        }
      }
      if (targets.every((t) => t.kind === 'error')) bad++;
    }
  });
  if (bad > 0) process.exitCode = exitCodes.noUser;
}

/**
 * -bv for a user who may not read the directory: the running server says deliverable or not
 * (app/public-socket.ts), without showing where aliases lead; with the server down, the
 * directory read here if this user may (local-verify.ts); else 69 (EX_UNAVAILABLE, as
 * Postfix's tools say when the mail system is down) with what to do.
 */
async function verifyThroughServer(ctx: CliContext, config: Config, recipients: readonly Address[]): Promise<void> {
  const r = await verifyLocally(config, recipients.map(addressToString));
  if ('unavailable' in r) {
    throw new CliError(`address verification unavailable: the mail system is down (${r.unavailable}): start correio serve, or run -bv as root or the data directory's owner`, exitCodes.unavailable);
  }
  if (r.from === 'directory') ctx.stderr.write('correio: the server is down: answered from the directory, read here\n');
  for (const v of r.verdicts) ctx.print(v.deliverable ? `${v.address}: deliverable` : `${v.address}: undeliverable: ${v.reply ?? 'refused'}`);
  if (r.verdicts.some((v) => !v.deliverable)) process.exitCode = exitCodes.noUser;
}

/** The argv after "sendmail" as typed ("--" included), from the program's raw arguments. */
function rawArguments(cmd: Command, fallback: readonly string[]): readonly string[] {
  const raw = (cmd.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs;
  if (!raw) return fallback;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '--config') {
      i++;
      continue;
    }
    if (raw[i].startsWith('--config=')) continue;
    return raw[i] === 'sendmail' ? raw.slice(i + 1) : fallback;
  }
  return fallback;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('sendmail')
    .description('submit a message from standard input (sendmail(8) flags: -t -i -f -F -bs -bv -bp -q …)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'flags and recipients, as for sendmail(8)')
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      const o = parseSendmailArgs(rawArguments(cmd, args));
      const config = configFor(ctx, cmd, o);
      requireInstallation(config);
      becomeDataDirOwner(config);
      try {
        switch (o.mode) {
          case 'deliver':
            return await deliver(ctx, config, o);
          case 'verify':
            return await verify(ctx, config, o);
          case 'smtp':
            return await smtpOnStdio(ctx, config);
          case 'print':
            return await listCommand(ctx, config);
          case 'flush': {
            const r = await queueAction(config, 'flush', undefined);
            if (o.verbose) ctx.stderr.write(`correio: ${r.count} envelopes due now\n`);
            return;
          }
        }
      } catch (err) {
        if (err instanceof SendmailInputError) throw new CliError(err.message, err.exitCode);
        if (err instanceof MailError) {
          const temp = err.temporary;
          throw new CliError(`message not accepted: ${formatReply(err.reply)}`, temp ? exitCodes.tempFail : exitCodes.dataErr);
        }
        throw err;
      }
    });
}

