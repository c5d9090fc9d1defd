/**
 * @module sendmail-maildrop
 * `correio sendmail` run by a local user who may not write the spool (not root, not the owner of
 * the data directory): the message goes into the maildrop (app/maildrop.ts), which the server
 * takes from, now if it runs, at its start otherwise. The envelope sender is the user's own
 * address unless the user is in `trusted_users`; a `-f` from anyone else is ignored with a
 * warning (the server enforces the same rule from the file's owner, whatever the file says).
 * Standards: sendmail(8) trusted users (-f), Postfix postdrop(1).
 * Security: the login is the account of the real uid, not $USER (which the caller sets).
 * Limitations: refused recipients are not known here: the sender gets a bounce instead of exit
 *   67; -bs and -bv need the spool and the directory (the data directory's owner or root).
 */
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { addressToString, type Address, type DsnParams, type MailParams, type ReversePath } from '../../core/index.js';
import type { Config } from '../../config/index.js';
import { maildropDir, writeMaildrop } from '../../app/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { quoteLocalPart } from '../../address/index.js';

const EX_NOPERM = 77;

/** Whether this process must submit through the maildrop: it is not root and not the data directory's owner. */
export function submitsThroughMaildrop(config: Config): boolean {
  const uid = process.getuid?.();
  if (uid === undefined || uid === 0) return false;
  try {
    return statSync(config.dataDir).uid !== uid;
  } catch {
    return false; // no data directory yet: the user's own (a development setup) is made as today
  }
}

/** The account name of the real uid. */
export function realLogin(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid${process.getuid?.() ?? ''}`;
  }
}

/** -f as a maildrop submitter may use it: kept for trusted users (and one's own address), else dropped with a warning. */
export function maildropSenderOption(ctx: CliContext, config: Config, from: string | undefined, login: string): string | undefined {
  if (from === undefined || config.trustedUsers.includes(login)) return from;
  const own = `${quoteLocalPart(login)}@${config.localDomains[0]}`;
  if (from.trim().replace(/^<|>$/g, '').toLowerCase() === own.toLowerCase()) return from;
  ctx.stderr.write(`correio: sendmail: -f ${from} ignored: user ${login} is not in trusted_users (correio.toml); the sender is ${own}\n`);
  return undefined;
}

export interface DropRequest {
  readonly sender: ReversePath;
  readonly recipients: readonly Address[];
  readonly notify?: DsnParams['notify'];
  readonly mail: Pick<MailParams, 'body' | 'ret' | 'envid' | 'smtpUtf8'>;
  readonly verbose: boolean;
}

/** Writes the message into the maildrop; exit 0 once it is there (synced). */
export async function dropMessage(ctx: CliContext, config: Config, req: DropRequest, message: AsyncIterable<Buffer>): Promise<void> {
  const dir = maildropDir(config);
  let name: string;
  try {
    name = await writeMaildrop(
      config,
      {
        sender: req.sender === null ? '' : addressToString(req.sender),
        recipients: req.recipients.map(addressToString),
        ...(req.notify && { notify: req.notify }),
        mail: req.mail,
      },
      message,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CliError(`cannot submit: there is no maildrop ${dir} yet (correio serve makes it at its first start): start the server, or ask the administrator`, exitCodes.tempFail);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CliError(
        `cannot submit: user ${realLogin()} may not write into ${dir}: correio serve makes it (mode 3733) and the data directory searchable at its first start; ` +
          'if it has run, ask the administrator (docs/install.md §3)',
        EX_NOPERM,
      );
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new CliError(`cannot submit: no space left in ${dir}: try again later`, exitCodes.tempFail);
    throw err;
  }
  if (req.verbose) ctx.stderr.write(`correio: submitted as ${name} through ${dir} (the server queues it)\n`);
}
