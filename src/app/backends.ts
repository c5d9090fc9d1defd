/**
 * @module backends
 * Opens what every process of correio shares on disk: the directory, the spool, the mailboxes,
 * the resolver (with the aliases file) and intake. `correio serve` adds listeners and the queue
 * runner on top; offline commands (`sendmail`, `queue …`, `resolve`) use these alone.
 * Standards: none.
 * Security: the aliases file is re-read when it changes; an unreadable file keeps the previous
 *   good set in force.
 * With a "postgres://" storage url the directory, the queue and the mailboxes are in
 * PostgreSQL, shared by every node on that url (mailboxes: PgMailStore, idempotent on the
 * envelope id). A `[storage] mail_dir` set explicitly keeps the mailboxes a Maildir there (a
 * directory shared by the nodes, e.g. over NFS), whose file names then carry the first local
 * domain instead of the node's hostname, so a delivery repeated by another node finds the
 * first copy (MaildirStore's uniqueKey).
 * Limitations: none.
 */
import { dkimSignerFor, forwardSealerFor, srsFor, type LiveKeys } from './mail-auth.js';
import { DkimKeyring } from './dkim-keyring.js';
import { join } from 'node:path';
import { unwatchFile, watchFile } from 'node:fs';
import { systemClock, type Clock, type Envelope, type ListSealer, type MessageSigner, type SenderRewriter } from '../core/index.js';
import type { Config } from '../config/index.js';
import { openDirectory, type DirectoryBackend } from '../directory/index.js';
import { ConfiguredAliases, configuredResolver } from './configured-resolver.js';
import { FsQueueStore, PgQueueStore, type FsQueueStoreOptions } from '../queue/index.js';
import { isPostgresUrl } from '../util/index.js';
import type { MailboxStore, MailFolderStore, MailSearchIndex, QueueStore } from '../core/index.js';
import { MailboxQuota, MaildirFolders, MaildirStore, PgMailFolders, PgMailStore, SqliteSearchIndex, type MessageRead, type MessagesGone } from '../mailbox/index.js';
import { AliasResolver } from '../resolve/index.js';
import { IntakeService } from '../intake/index.js';

export interface Backends {
  readonly config: Config;
  readonly clock: Clock;
  readonly directory: DirectoryBackend;
  readonly store: QueueStore;
  readonly mailboxes: MailboxStore;
  /** the folder face of the same mailboxes (IMAP, JMAP); one per process (Maildir: one lock per folder) */
  readonly folders: MailFolderStore;
  /** `<data_dir>/search.sqlite` when asked for (serve): JMAP's text search and, on Maildir, IMAP's */
  readonly searchIndex?: MailSearchIndex;
  /** the mailbox quotas (docs/quota.md): the directory's limits, `[quota]` as in force, the store's usage */
  readonly quota: MailboxQuota;
  readonly resolver: AliasResolver;
  readonly intake: IntakeService;
  /** the DKIM keys this process signs and seals with (data_dir/dkim, or PostgreSQL's, refreshed) */
  readonly dkim: DkimKeyring;
  /** problems found in the aliases file at the last (re)load, with line numbers */
  aliasErrors(): readonly string[];
  /** who is told about newly committed envelopes (the queue runner, when one runs) */
  setOnQueued(fn: ((envelopes: readonly Envelope[]) => void) | undefined): void;
  /**
   * A reload (reload.ts): the new local domains enter the directory, the aliases file is
   * re-read (and watched, if its name changed), and `intake` becomes one built from `next`.
   */
  reload(next: Config): Promise<void>;
  close(): Promise<void>;
}

export interface BackendOptions {
  readonly clock?: Clock;
  /** watch the aliases file for changes (serve); default false */
  readonly watchAliases?: boolean;
  /** a long-lived server (serve, an acceptor): on PostgreSQL the local domains are kept in memory (pg-domain-cache.ts); default false */
  readonly serving?: boolean;
  /** called after each aliases-file (re)load with its problems */
  readonly onAliasesLoaded?: (errors: readonly string[], count: number) => void;
  /**
   * how the spool is opened (default: as owner, recovering it). A second opener (a reader
   * beside a running server) passes { lock: false, recover: 'never' }: recovery runs once, in
   * the owner.
   */
  readonly spool?: FsQueueStoreOptions;
  /**
   * open the full-text index `<data_dir>/search.sqlite` (serve): Maildir folders keep IMAP's
   * text documents in it as mail arrives (folder-text-index), the web its JMAP ones
   */
  readonly searchIndex?: boolean;
  /** told each message the text index reads (serve: IMAP's fetch cache is filled from it) */
  readonly messageRead?: MessageRead;
  /** told the messages the text index finds gone (serve: the fetch cache drops their rows) */
  readonly messagesGone?: MessagesGone;
}

export function spoolDir(config: Config): string {
  return join(config.dataDir, 'spool');
}
/** The Maildirs: [storage] mail_dir, else data_dir/mail. */
export function mailDir(config: Config): string {
  return config.storage.mailDir ?? join(config.dataDir, 'mail');
}

/** Whether the mailboxes are in PostgreSQL: a postgres url and no [storage] mail_dir of one's own. */
export function mailboxesInPostgres(config: Config): boolean {
  return sharedStorage(config) && config.storage.mailDir === undefined;
}

/** The configured mailboxes and their folder face: PostgreSQL's, or a Maildir (mailDir). */
export async function openMailboxes(config: Config, opts: { searchIndex?: MailSearchIndex; messageRead?: MessageRead; messagesGone?: MessagesGone } = {}): Promise<{ mailboxes: MailboxStore; folders: MailFolderStore; close(): Promise<void> }> {
  if (mailboxesInPostgres(config)) {
    const store = await PgMailStore.open(config.storage.url, { listenUrl: config.storage.listenUrl });
    return { mailboxes: store, folders: new PgMailFolders(store), close: () => store.close() };
  }
  // several nodes deliver into one Maildir: the name must not depend on which node wrote it
  const store = new MaildirStore(mailDir(config), { hostname: sharedStorage(config) ? config.localDomains[0] : config.hostname });
  const { searchIndex, ...hooks } = opts;
  const folders = new MaildirFolders(store, searchIndex ? { searchIndex, ...hooks } : {});
  return { mailboxes: store, folders, close: async () => folders.textIndex?.close() };
}

/** Whether this configuration's storage is PostgreSQL (several nodes). */
export function sharedStorage(config: Config): boolean {
  return isPostgresUrl(config.storage.url);
}

/**
 * The configured queue: the files spool under data_dir (opened as `spool` says), or the
 * PostgreSQL queue of [storage] url.
 */
export function openQueueStore(config: Config, spool?: FsQueueStoreOptions): Promise<QueueStore> {
  if (sharedStorage(config)) return PgQueueStore.open(config.storage.url, { leaseMs: config.storage.leaseMs, preparedStatements: config.storage.preparedStatements });
  return FsQueueStore.open(spoolDir(config), spool);
}

export async function openBackends(config: Config, opts: BackendOptions = {}): Promise<Backends> {
  const clock = opts.clock ?? systemClock;
  const directory = await openDirectory(config, { serving: opts.serving });
  let store: QueueStore | undefined;
  try {
    store = await openQueueStore(config, opts.spool);
  } catch (err) {
    await directory.close();
    throw err;
  }
  let boxes: Awaited<ReturnType<typeof openMailboxes>>;
  let searchIndex: SqliteSearchIndex | undefined;
  try {
    if (opts.searchIndex && !mailboxesInPostgres(config)) searchIndex = new SqliteSearchIndex(join(config.dataDir, 'search.sqlite'));
    boxes = await openMailboxes(config, searchIndex ? { searchIndex, ...(opts.messageRead && { messageRead: opts.messageRead }), ...(opts.messagesGone && { messagesGone: opts.messagesGone }) } : {});
  } catch (err) {
    await searchIndex?.close();
    await store.close();
    await directory.close();
    throw err;
  }
  const { mailboxes, folders } = boxes;

  let current = config;
  const quota = new MailboxQuota({ directory, mailboxes, defaults: () => current.quota });
  const aliases = new ConfiguredAliases(config);
  const loadAliases = async (): Promise<void> => {
    if (!current.aliasesFile) return;
    const errors = await aliases.load();
    opts.onAliasesLoaded?.(errors, aliases.map().size);
  };
  await loadAliases();
  let watched: string | undefined;
  const watch = (file: string | undefined): void => {
    if (!opts.watchAliases || file === watched) return;
    if (watched) unwatchFile(watched);
    watched = file;
    if (file) watchFile(file, { interval: 1000 }, () => void loadAliases());
  };
  watch(config.aliasesFile);
  const resolver = configuredResolver(config, directory, aliases);
  let dkim: DkimKeyring;
  let srs: SenderRewriter | undefined;
  try {
    dkim = await DkimKeyring.open(config);
    const keyring = dkim;
    srs = await srsFor(config).catch(async (err: unknown) => {
      await keyring.close();
      throw err;
    });
  } catch (err) {
    watch(undefined);
    await boxes.close();
    await searchIndex?.close();
    await store.close();
    await directory.close();
    throw err;
  }

  let onQueued: ((envelopes: readonly Envelope[]) => void) | undefined;
  const buildIntake = (cfg: Config): IntakeService =>
    new IntakeService({
      store,
      resolver,
      hostname: cfg.hostname,
      clock,
      maxMessageSize: cfg.smtp.maxMessageSize,
      maxHops: cfg.delivery.maxHops,
      onQueued: (envs) => onQueued?.(envs),
      quota,
      ...signerOf(cfg, dkim.keys),
      ...(srs && { srs }),
      ...forwardSealerOf(cfg, dkim.keys),
    });
  let intake = buildIntake(config);

  return {
    get config() {
      return current;
    },
    clock,
    directory,
    store,
    mailboxes,
    folders,
    ...(searchIndex && { searchIndex }),
    quota,
    resolver,
    dkim,
    get intake() {
      return intake;
    },
    aliasErrors: () => aliases.errors(),
    setOnQueued: (fn) => {
      onQueued = fn;
    },
    reload: async (next) => {
      // opening the directory with the new local domains adds them (and their postmaster)
      await (await openDirectory(next)).close();
      aliases.use(next);
      current = next;
      watch(next.aliasesFile);
      await loadAliases();
      await dkim.reload(next);
      srs = await srsFor(next);
      intake = buildIntake(next);
    },
    close: async () => {
      watch(undefined);
      await dkim.close();
      await boxes.close();
      await searchIndex?.close();
      await store.close();
      await directory.close();
    },
  };
}

/** `[mail_auth] dkim_sign`: the intake's signer over the process's keys (mail-auth.ts). */
function signerOf(cfg: Config, keys: LiveKeys): { signer?: MessageSigner } {
  const signer = dkimSignerFor(cfg, keys);
  return signer ? { signer } : {};
}

/** `[mail_auth] seal_forwards`: the intake's ARC sealer of forwarded mail (mail-auth.ts). */
function forwardSealerOf(cfg: Config, keys: LiveKeys): { forwardSealer?: ListSealer } {
  const forwardSealer = forwardSealerFor(cfg, keys);
  return forwardSealer ? { forwardSealer } : {};
}
