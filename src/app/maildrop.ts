/**
 * @module maildrop
 * The hand-off through which any local user submits mail (`correio sendmail` run by someone who
 * may not write the spool): `<data_dir>/maildrop/`, mode 3733 owned by run_as (anyone may create a
 * file there; only correio may list it; a file's group is the directory's, so correio reads it
 * and other users do not; only its owner and correio may rename or remove it: the sticky bit). One file
 * per message: a first line `CORREIO-MAILDROP 1`, one line of JSON (the envelope the user asks
 * for), then the message. The writer makes `.<name>` and renames it to `<name>` once complete
 * and synced; the server's pickup (maildrop-pickup.ts) takes only complete names. Who submitted
 * it is the file's owner, as the kernel recorded it; nothing in the file can change that.
 * Standards: the maildrop of Postfix's postdrop(1)/pickup(8), without a set-gid program (a Node
 *   script cannot be one): the directory is world-writable and sticky, like /tmp.
 * Security: the envelope line is parsed strictly (unknown fields, wrong types: the file is set
 *   aside); the sender is decided by the pickup from the owner (`trusted_users`), never taken
 *   from the file for untrusted users.
 * Limitations: a writer other than the owner cannot fsync the directory (it may not open it
 *   for reading); it fsyncs the file again after the rename, which makes the name durable on
 *   journalling file systems (ext4, XFS) but not on every file system. Any local user can fill the disk through it (as
 *   with Postfix's world-writable maildrop); restrict it with chmod 3730 and a group of submitters.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { DsnParams, MailParams } from '../core/index.js';

export const MAILDROP_MAGIC = 'CORREIO-MAILDROP 1';
/** the envelope line may not be longer (a million recipients is not a local submission) */
export const MAX_ENVELOPE_LINE = 1024 * 1024;

export function maildropDir(config: Config): string {
  return join(config.dataDir, 'maildrop');
}

/** The envelope a user asks for; addresses as SMTP paths without angle brackets. */
export interface MaildropEnvelope {
  /** "" for the null sender */
  readonly sender: string;
  readonly recipients: readonly string[];
  readonly notify?: DsnParams['notify'];
  readonly mail: Pick<MailParams, 'body' | 'ret' | 'envid' | 'smtpUtf8'>;
}

const notifyWords = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);

/** The envelope line's value, checked field by field; a string saying what is wrong otherwise. */
export function parseMaildropEnvelope(line: string): MaildropEnvelope | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'the envelope line is not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'the envelope is not an object';
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['sender', 'recipients', 'notify', 'mail'].includes(k)) return `unknown envelope field "${k}"`;
  if (typeof o.sender !== 'string') return 'sender is not a string';
  if (!Array.isArray(o.recipients) || o.recipients.length === 0 || !o.recipients.every((r) => typeof r === 'string')) return 'recipients is not a list of addresses';
  if (o.notify !== undefined && (!Array.isArray(o.notify) || !o.notify.every((w) => typeof w === 'string' && notifyWords.has(w)))) return 'notify is not a list of NEVER, SUCCESS, FAILURE, DELAY';
  const m = o.mail;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'mail is not an object';
  const mail = m as Record<string, unknown>;
  for (const k of Object.keys(mail)) if (!['body', 'ret', 'envid', 'smtpUtf8'].includes(k)) return `unknown mail field "${k}"`;
  if (mail.body !== undefined && mail.body !== '7BIT' && mail.body !== '8BITMIME') return 'mail.body is not 7BIT or 8BITMIME';
  if (mail.ret !== undefined && mail.ret !== 'FULL' && mail.ret !== 'HDRS') return 'mail.ret is not FULL or HDRS';
  if (mail.envid !== undefined && (typeof mail.envid !== 'string' || mail.envid.length > 100)) return 'mail.envid is not a string of at most 100 characters';
  if (mail.smtpUtf8 !== undefined && typeof mail.smtpUtf8 !== 'boolean') return 'mail.smtpUtf8 is not true or false';
  return o as unknown as MaildropEnvelope;
}

/**
 * Writes one message into the maildrop (as the invoking user) and returns its name once the
 * file is complete, synced and renamed into view. A failure removes the partial file.
 */
/**
 * Makes the file's new name durable before "accepted" is said. The owner (and root) fsync the
 * maildrop directory itself; any other user may not open it (mode 3733: no read), so the file is
 * fsynced once more after the rename instead: on a journalling file system (ext4, XFS) that
 * commits the journal transaction holding the rename.
 */
async function syncName(dir: string, file: FileHandle): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
      return;
    } finally {
      await d.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  await file.sync();
}

export async function writeMaildrop(config: Config, envelope: MaildropEnvelope, message: AsyncIterable<Buffer>): Promise<string> {
  const dir = maildropDir(config);
  const name = `${Date.now().toString(36)}-${process.pid}-${randomBytes(6).toString('hex')}`;
  const partial = join(dir, `.${name}`);
  // 0640: the directory is set-group-ID, so the file's group is correio's (run_as's), which
  // reads it through the group bits; other users cannot
  const fh = await open(partial, 'wx', 0o640);
  try {
    await fh.chmod(0o640); // whatever the user's umask

    await fh.write(`${MAILDROP_MAGIC}\n${JSON.stringify(envelope)}\n`);
    for await (const chunk of message) await fh.write(chunk);
    await fh.datasync();
    await rename(partial, join(dir, name));
    await syncName(dir, fh);
    await fh.close();
    return name;
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(partial).catch(() => undefined);
    throw err;
  }
}
