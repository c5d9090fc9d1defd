/**
 * @module maildrop-pickup
 * The server's side of the maildrop (maildrop.ts): at start and whenever the directory changes
 * (inotify through fs.watch, and a poll every few seconds in case an event is missed), each
 * complete file is checked, handed to intake like mail from `sendmail`, and removed once the
 * message is durable in the spool. The submitter is the file's owner; the envelope sender is
 * what the file asks for only when that owner is root, run_as, or in `trusted_users`, and
 * otherwise the owner's own address (`login@primary domain`): a local user cannot send as
 * another. A recipient refused for good (no such user) is queued as a failure, so the sender
 * gets a bounce (as Postfix's pickup and cleanup do); a temporary failure leaves the file for
 * the next pass.
 * Standards: RFC 5321 §4.5.5 (bounces), Postfix pickup(8).
 * Security: files are opened without following links (O_NOFOLLOW, O_NONBLOCK) and must be regular
 *   files with one link, so a user cannot make correio read another file; a bad file is moved
 *   to `<data_dir>/maildrop.bad/` with a log line, never interpreted.
 * Limitations: one message at a time; a file is taken again after a crash between the commit
 *   and its removal (one duplicate), as with Postfix.
 */
import { constants, watch, type FSWatcher } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MailError, addressToString, type AcceptedRecipient, type Address, type Intake, type ReversePath, type SessionInfo } from '../core/index.js';
import type { Config } from '../config/index.js';
import { parseForwardPath, parseReversePath, quoteLocalPart } from '../address/index.js';
import { MAILDROP_MAGIC, MAX_ENVELOPE_LINE, maildropDir, parseMaildropEnvelope, type MaildropEnvelope } from './maildrop.js';
import { findSystemUser } from './system-users.js';

const POLL_MS = 5000;
/** a partial file (".name") older than this was left by a writer that died */
const STALE_PARTIAL_MS = 86_400_000;

export interface PickupOptions {
  readonly config: () => Config;
  readonly intake: () => Intake;
  readonly logger: Logger;
}

/** Why a file is set aside rather than retried. */
class BadFile extends Error {}

/** Reads up to the first two newlines: the magic line and the envelope line; returns the body offset. */
async function readEnvelope(fh: FileHandle): Promise<{ envelope: MaildropEnvelope; offset: number }> {
  const buf = Buffer.alloc(MAX_ENVELOPE_LINE + MAILDROP_MAGIC.length + 2);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const head = buf.subarray(0, bytesRead);
  const nl1 = head.indexOf(0x0a);
  if (nl1 < 0 || head.subarray(0, nl1).toString('latin1') !== MAILDROP_MAGIC) throw new BadFile(`not a maildrop file (no "${MAILDROP_MAGIC}" line)`);
  const nl2 = head.indexOf(0x0a, nl1 + 1);
  if (nl2 < 0) throw new BadFile('the envelope line is missing or too long');
  const envelope = parseMaildropEnvelope(head.subarray(nl1 + 1, nl2).toString('utf8'));
  if (typeof envelope === 'string') throw new BadFile(envelope);
  return { envelope, offset: nl2 + 1 };
}

export class MaildropPickup {
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  readonly #names = new Map<number, string | undefined>();

  constructor(private readonly opts: PickupOptions) {}

  get dir(): string {
    return maildropDir(this.opts.config());
  }

  /**
   * Makes the maildrop when absent (3733; data_dir then searchable by everyone, 0711 at least,
   * which is why directory.sqlite is 0600) and takes what waits in it.
   */
  async start(): Promise<void> {
    const config = this.opts.config();
    const dir = this.dir;
    try {
      await lstat(dir);
    } catch {
      await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o3733);
      const st = await stat(config.dataDir);
      await chmod(config.dataDir, (st.mode & 0o7777) | 0o111);
      // everything else in it stays its owner's: files made by older versions with 0644 too
      for (const f of ['directory.sqlite', 'directory.sqlite-wal', 'directory.sqlite-shm']) {
        const p = join(config.dataDir, f);
        const fst = await lstat(p).catch(() => undefined);
        if (fst?.isFile()) await chmod(p, fst.mode & 0o700);
      }
      this.opts.logger.info({ dir }, 'maildrop made: any local user may submit with correio sendmail');
    }
    try {
      this.#watcher = watch(dir, () => this.kick());
      this.#watcher.on('error', () => undefined);
    } catch {
      /* no inotify: the poll below finds the files */
    }
    this.#timer = setInterval(() => this.kick(), POLL_MS);
    this.#timer.unref();
    this.kick();
    await this.#running;
  }

  /** A pass soon (coalesced: one runs at a time, another follows if asked meanwhile). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  async #pass(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      this.opts.logger.error({ dir: this.dir, err: (err as Error).message }, 'maildrop unreadable');
      return;
    }
    for (const name of names.sort()) {
      if (this.#stopped) return;
      if (name.startsWith('.')) {
        await this.#dropStalePartial(name);
        continue;
      }
      try {
        await this.#take(name);
      } catch (err) {
        if (err instanceof BadFile) await this.#setAside(name, err.message);
        else this.opts.logger.warn({ file: name, err: err instanceof Error ? err.message : String(err) }, 'maildrop file kept for the next pass');
      }
    }
  }

  async #dropStalePartial(name: string): Promise<void> {
    const path = join(this.dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_PARTIAL_MS) await unlink(path).catch(() => undefined);
  }

  async #setAside(name: string, why: string): Promise<void> {
    const bad = join(this.opts.config().dataDir, 'maildrop.bad');
    await mkdir(bad, { recursive: true, mode: 0o700 }).catch(() => undefined);
    await rename(join(this.dir, name), join(bad, name)).catch(() => unlink(join(this.dir, name)).catch(() => undefined));
    this.opts.logger.error({ file: name, moved: bad, reason: why }, 'maildrop file set aside');
  }

  /** The owner's login name, or undefined for a uid with no account (its mail is refused). */
  #nameOf(uid: number): string | undefined {
    if (!this.#names.has(uid)) this.#names.set(uid, findSystemUser(uid)?.name);
    return this.#names.get(uid);
  }

  #trusted(uid: number, name: string): boolean {
    const config = this.opts.config();
    return uid === 0 || uid === process.geteuid?.() || config.trustedUsers.includes(name);
  }

  async #take(name: string): Promise<void> {
    const path = join(this.dir, name);
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // taken by a pass before this one
      if (code === 'ELOOP') throw new BadFile('a symbolic link');
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new BadFile('not a regular file');
      if (st.nlink !== 1) throw new BadFile('a file with other links');
      const login = this.#nameOf(st.uid);
      if (login === undefined) throw new BadFile(`owner uid ${st.uid} has no account`);
      const { envelope, offset } = await readEnvelope(fh);
      const config = this.opts.config();
      const primary = config.localDomains[0];
      const own = parseForwardPath(`<${quoteLocalPart(login)}@${primary}>`, { smtpUtf8: true });
      let sender: ReversePath;
      try {
        sender = envelope.sender === '' ? null : parseReversePath(`<${envelope.sender}>`, { smtpUtf8: true });
      } catch {
        throw new BadFile(`sender "${envelope.sender}" is not an address`);
      }
      const trusted = this.#trusted(st.uid, login);
      if (!trusted && (sender === null || addressToString(sender).toLowerCase() !== addressToString(own).toLowerCase())) {
        this.opts.logger.warn({ file: name, user: login, asked: envelope.sender, sender: addressToString(own) }, 'maildrop: sender replaced: the user is not in trusted_users');
        sender = own;
      }
      const recipients: Address[] = [];
      for (const r of envelope.recipients) {
        try {
          recipients.push(parseForwardPath(`<${r}>`, { smtpUtf8: true }));
        } catch {
          throw new BadFile(`recipient "${r}" is not an address`);
        }
      }
      const session: SessionInfo = { protocol: 'local', mayRelay: true, submission: true, authUser: login };
      const intake = this.opts.intake();
      const dsn = envelope.notify ? { notify: envelope.notify } : {};
      await intake.checkSender({ protocol: 'local', mayRelay: true, submission: true }, sender, envelope.mail);
      const accepted: AcceptedRecipient[] = [];
      for (const address of recipients) {
        try {
          accepted.push(await intake.checkRecipient(session, sender, address, dsn));
        } catch (err) {
          if (!(err instanceof MailError) || err.temporary) throw err;
          // refused for good: queued as a failure, so that the sender hears of it (a bounce)
          accepted.push({ address, dsn, targets: [{ kind: 'error', reply: err.reply, original: address, via: [] }] });
        }
      }
      const body = fh.createReadStream({ start: offset, autoClose: false });
      const r = await intake.receive({ session, sender, mail: envelope.mail, recipients: accepted }, body);
      await unlink(path);
      this.opts.logger.info(
        { file: name, user: login, sender: sender === null ? '' : addressToString(sender), recipients: envelope.recipients, messageId: r.messageId },
        'maildrop picked up',
      );
    } catch (err) {
      // a message intake refuses as a whole (a loop, too big) is not retried either
      if (err instanceof MailError && !err.temporary) throw new BadFile(err.message);
      throw err;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}
