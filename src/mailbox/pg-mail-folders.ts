/**
 * @module pg-mail-folders
 * The folder face (MailFolderStore) of the PostgreSQL mailboxes: the messages of the folders
 * (pg-folder-tree.ts, which this class extends, keeps the folders themselves and the
 * subscriptions): per-folder UIDs and MODSEQs, keywords, the expunge record for VANISHED, text
 * search, and watchers fed by LISTEN/NOTIFY from every node.
 * Each change runs in one transaction that locks the folder's row, so two nodes changing one
 * folder are ordered by PostgreSQL; a sync is one statement (one snapshot): the folder's
 * changes since this process's last snapshot of it (pg-folder-snapshots), or all of it.
 * Standards: RFC 9051 §2.3.1.1 (UIDs); RFC 7162 §3.1 (MODSEQ, UNCHANGEDSINCE), §3.2.10
 *   (VANISHED); RFC 3501 §2.3.2 (\Recent: the first recent UID per folder, claimed under the
 *   row lock); RFC 3502 (MULTIAPPEND in one transaction); RFC 6851 (MOVE in one transaction).
 * Security: names pass checkFolderName; users pass ownerOf; bound parameters only.
 * Limitations: the expunge record keeps every expunged UID of a folder until the folder is
 *   deleted (about 30 bytes each).
 */
import type { Readable } from 'node:stream';
import {
  MailFolderError,
  type AppendItem,
  type FlagChange,
  type FlagUpdateResult,
  type FolderChanges,
  type FolderDelta,
  type ExpungeHistory,
  type FolderMessage,
  type FolderSnapshot,
  type MailFolderStore,
} from '../core/index.js';
import { rangesOf } from '../protocol/imap/index.js';
import { checkFolderName } from './folder-name.js';
import { nonexistent, PgFolderTree } from './pg-folder-tree.js';
import { PgEmailAliases } from './pg-email-aliases.js';
import { folderMessage, PgFolderSnapshots } from './pg-folder-snapshots.js';
import { pgExactOctets } from './pg-mail-body.js';
import { pgExpungeHistory } from './pg-mail-import.js';
import { crlfBody, messageColumns, ownerOf, type MessageRow, type PgMailStore } from './pg-mail-store.js';
import { PgThreadIndex } from './pg-thread-index.js';
import { gramsPatterns, narrowingQuery } from './search-words.js';
import { applyChange, checkKeywords, flagStep } from './uid-index.js';

/** The client's name of a row name ("" = INBOX). */
function displayName(name: string): string {
  return name === '' ? 'INBOX' : name;
}

interface FolderHead {
  uid_validity: string;
  uid_next: string;
  highest_modseq: string;
}

export class PgMailFolders extends PgFolderTree implements MailFolderStore {
  /** JMAP's Thread and Email ids in the shared database, the same on every node */
  readonly jmapIndexes: MailFolderStore['jmapIndexes'];
  /** each folder's last snapshot, kept for the next sync (bounded: pg-folder-snapshots) */
  readonly snapshots: PgFolderSnapshots;
  /** RFC 3516 §4.4: a body is kept with CRLF line ends, so a bare LF does not come back as sent */
  readonly exactOctets = pgExactOctets;

  constructor(store: PgMailStore) {
    super(store);
    this.snapshots = new PgFolderSnapshots(store);
    this.jmapIndexes = { threads: new PgThreadIndex(store), emailIds: new PgEmailAliases(store) };
  }

  /** The folder's head (INBOX made when missing); nonexistent otherwise. */
  async #head(owner: string, f: string, folder: string): Promise<FolderHead> {
    const sql = 'SELECT uid_validity, uid_next, highest_modseq FROM mail_folders WHERE owner = $1 AND name = $2';
    let head = (await this.store.query<FolderHead>(sql, [owner, f]))[0];
    if (!head && f === '') {
      await this.store.query('INSERT INTO mail_folders (owner, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [owner, f]);
      head = (await this.store.query<FolderHead>(sql, [owner, f]))[0];
    }
    if (!head) throw nonexistent(folder);
    return head;
  }

  /**
   * The folder's snapshot: the last one this process made brought up to date from the rows
   * changed since (pg-folder-snapshots: O(changes), changes of every node), or the folder read
   * whole when none is kept.
   */
  async sync(user: string, folder: string): Promise<FolderSnapshot> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    const snap = await this.snapshots.sync(owner, f);
    if (snap) return snap;
    // INBOX made when missing; any other folder is nonexistent
    await this.#head(owner, f, folder);
    const made = await this.snapshots.sync(owner, f);
    if (!made) throw nonexistent(folder);
    return made;
  }

  /** The folder's snapshot with the changes from the one of `version` (pg-folder-snapshots keeps the last ones). */
  syncDelta(user: string, folder: string, version: number): Promise<FolderDelta | undefined> {
    return this.snapshots.delta(ownerOf(user), checkFolderName(folder), version);
  }

  async changesSince(user: string, folder: string, sinceModseq: number): Promise<FolderChanges> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    await this.#head(owner, f, folder);
    return this.store.tx(async (c) => {
      // one snapshot for the three reads
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const h = await c.query<FolderHead & { id: string }>('SELECT id, uid_validity, uid_next, highest_modseq FROM mail_folders WHERE owner = $1 AND name = $2', [owner, f]);
      const head = h.rows[0];
      if (!head) throw nonexistent(folder);
      const changed = await c.query<MessageRow>(`SELECT ${messageColumns} FROM mail_messages WHERE folder_id = $1 AND modseq > $2 ORDER BY uid`, [head.id, sinceModseq]);
      const gone = await c.query<{ uid: string }>('SELECT uid FROM mail_expunged WHERE folder_id = $1 AND modseq > $2 ORDER BY uid', [head.id, sinceModseq]);
      return {
        uidValidity: Number(head.uid_validity),
        highestModseq: Number(head.highest_modseq),
        changed: changed.rows.map(folderMessage),
        vanished: rangesOf(gone.rows.map((r) => Number(r.uid))),
      };
    });
  }

  async updateFlags(user: string, folder: string, uids: readonly number[], change: FlagChange, opts: { unchangedSince?: number } = {}): Promise<FlagUpdateResult> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    checkKeywords(change.keywords);
    return this.store.tx(async (c) => {
      const row = await this.store.lockFolder(c, owner, f, f === '');
      if (!row) throw nonexistent(folder);
      const r = await c.query<MessageRow>(`SELECT ${messageColumns} FROM mail_messages WHERE folder_id = $1 AND uid = ANY($2::bigint[])`, [row.id, uids]);
      const byUid = new Map(r.rows.map((m) => [Number(m.uid), folderMessage(m)]));
      const modseq = row.highestModseq + 1;
      const updated: FolderMessage[] = [];
      const modified: number[] = [];
      const missing: number[] = [];
      for (const uid of uids) {
        const m = byUid.get(uid);
        const next = flagStep(m, change, opts.unchangedSince);
        if (next === 'missing' || next === 'modified') {
          (next === 'missing' ? missing : modified).push(uid);
          continue;
        }
        if (next === 'same' || !m) continue;
        updated.push({ ...m, flags: next.flags, keywords: next.keywords, modseq });
      }
      if (updated.length === 0) return { highestModseq: row.highestModseq, updated, modified, missing };
      await c.query(
        `UPDATE mail_messages m SET flags = u.flags, keywords = ARRAY(SELECT jsonb_array_elements_text(u.keywords)), modseq = $2
         FROM unnest($3::bigint[], $4::text[], $5::jsonb[]) AS u (uid, flags, keywords) WHERE m.folder_id = $1 AND m.uid = u.uid`,
        [row.id, modseq, updated.map((m) => m.uid), updated.map((m) => m.flags), updated.map((m) => JSON.stringify(m.keywords))],
      );
      await this.store.bumpFolder(c, row, modseq);
      return { highestModseq: modseq, updated, modified, missing };
    });
  }

  async append(
    user: string,
    folder: string,
    message: Readable | Buffer,
    opts: { flags: string; keywords?: readonly string[]; receivedAt?: number },
  ): Promise<{ uid: number; uidValidity: number }> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    checkKeywords(opts.keywords);
    const flags = applyChange('', [], { mode: 'set', flags: opts.flags, keywords: opts.keywords ?? [] });
    const body = await this.store.receive(message);
    try {
      return await this.store.tx(async (c) => {
        // the body first (a streamed one takes as long as its sender), then the folder's lock,
        // in the order of every change that stores a body (no deadlock between two)
        const { hash, size } = await this.store.putIncoming(c, body);
        const row = await this.store.lockFolder(c, owner, f, f === '');
        if (!row) throw nonexistent(folder);
        const [{ uid }] = await this.store.insertMessages(c, row, [
          { hash, size, flags: flags.flags, keywords: flags.keywords, receivedAt: opts.receivedAt ?? this.store.now() },
        ]);
        return { uid, uidValidity: row.uidValidity };
      });
    } finally {
      this.store.release(body);
    }
  }

  /**
   * IMAP4rev1 \Recent (RFC 3501 §2.3.2): the first recent UID kept in the folder's row; a
   * claim moves it to UIDNEXT under the row lock, so one session alone gets each message.
   */
  async recentFrom(user: string, folder: string, claim: boolean): Promise<number> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    return this.store.tx(async (c) => {
      const row = await this.store.lockFolder(c, owner, f, f === '');
      if (!row) throw nonexistent(folder);
      const r = await c.query<{ recent_from: string }>('SELECT recent_from FROM mail_folders WHERE id = $1', [row.id]);
      const from = Number(r.rows[0].recent_from);
      if (claim && from < row.uidNext) await c.query('UPDATE mail_folders SET recent_from = $2 WHERE id = $1', [row.id, row.uidNext]);
      return from;
    });
  }

  /** RFC 3502 MULTIAPPEND: every message in one transaction, so all or none. */
  async appendMany(user: string, folder: string, messages: readonly AppendItem[] | AsyncIterable<AppendItem>): Promise<{ uids: number[]; uidValidity: number }> {
    const owner = ownerOf(user);
    const f = checkFolderName(folder);
    if (Array.isArray(messages)) for (const m of messages as readonly AppendItem[]) checkKeywords(m.keywords);
    return this.store.tx(async (c) => {
      // the bodies first, then the folder's lock (the order of every change that stores a body)
      const rows = [];
      for await (const m of messages) {
        checkKeywords(m.keywords);
        const flags = applyChange('', [], { mode: 'set', flags: m.flags, keywords: m.keywords ?? [] });
        const row = { flags: flags.flags, keywords: flags.keywords, receivedAt: m.receivedAt ?? this.store.now() };
        if (Buffer.isBuffer(m.message)) {
          const body = crlfBody(m.message);
          rows.push({ hash: await this.store.putBody(c, body), size: body.length, ...row });
          continue;
        }
        // a streamed message (a big IMAP literal) as append takes one
        const body = await this.store.receive(m.message);
        try {
          rows.push({ ...(await this.store.putIncoming(c, body)), ...row });
        } finally {
          this.store.release(body);
        }
      }
      const row = await this.store.lockFolder(c, owner, f, f === '');
      if (!row) throw nonexistent(folder);
      const made = await this.store.insertMessages(c, row, rows);
      return { uids: made.map((x) => x.uid), uidValidity: row.uidValidity };
    });
  }

  copy(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[] }> {
    return this.#transfer(user, from, keys, to, false);
  }

  /** RFC 6851 MOVE in one transaction: each message is in exactly one of the folders at any moment. */
  move(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[]; moved: string[] }> {
    return this.#transfer(user, from, keys, to, true);
  }

  async #transfer(user: string, from: string, keys: readonly string[], to: string, move: boolean): Promise<{ uidValidity: number; uids: number[]; moved: string[] }> {
    const owner = ownerOf(user);
    const f = checkFolderName(from);
    const t = checkFolderName(to);
    if (move && f === t) throw new MailFolderError('cannot', 'a folder cannot be moved into itself');
    return this.store.tx(async (c) => {
      // both rows locked in one order (by id): two moves in opposite directions cannot deadlock
      if (move) await c.query('SELECT 1 FROM mail_folders WHERE owner = $1 AND name = ANY($2::text[]) ORDER BY id FOR UPDATE', [owner, [f, t]]);
      const target = await this.store.lockFolder(c, owner, t, t === '');
      if (!target) throw nonexistent(to);
      const src = await c.query<MessageRow>(
        `SELECT ${messageColumns.split(', ').map((x) => `m.${x}`).join(', ')} FROM mail_messages m JOIN mail_folders fo ON fo.id = m.folder_id
         WHERE fo.owner = $1 AND fo.name = $2 AND m.key = ANY($3)`,
        [owner, f, keys],
      );
      const byKey = new Map(src.rows.map((r) => [r.key, r]));
      const found = keys.map((k) => byKey.get(k)).filter((r): r is MessageRow => r !== undefined);
      // the same body row: a copy stores no second content
      const made = await this.store.insertMessages(
        c,
        target,
        // a move keeps the key (the message is the same one; JMAP's Email id follows it), a copy gets its own
        found.map((r) => ({ hash: r.body_hash, size: Number(r.size), flags: r.flags, keywords: r.keywords, receivedAt: Number(r.received_at), ...(move && { key: r.key }) })),
      );
      if (move && found.length > 0) {
        const source = await this.store.lockFolder(c, owner, f, false);
        if (source) await this.store.expunge(c, source, found.map((r) => r.key));
      }
      return { uidValidity: target.uidValidity, uids: made.map((m) => m.uid), moved: found.map((r) => r.key) };
    });
  }

  remove(user: string, folder: string, key: string): Promise<void> {
    return this.store.remove(user, key, displayName(checkFolderName(folder)));
  }

  open(user: string, folder: string, key: string): Promise<Readable> {
    return this.store.open(user, key, displayName(checkFolderName(folder)));
  }

  /**
   * UIDs (ascending) of the folder's messages whose header or text parts hold every word of
   * `text`: PostgreSQL full-text search ("simple" configuration, GIN index) — words, not the
   * substrings IMAP SEARCH BODY asks for (RFC 6203's fuzzy matching is of this kind).
   */
  async searchText(user: string, folder: string, text: string): Promise<number[]> {
    const rows = await this.store.query<{ uid: string }>(
      `SELECT m.uid FROM mail_messages m JOIN mail_folders fo ON fo.id = m.folder_id JOIN mail_bodies b ON b.hash = m.body_hash
       WHERE fo.owner = $1 AND fo.name = $2 AND b.search @@ plainto_tsquery('simple', $3) ORDER BY m.uid`,
      [ownerOf(user), checkFolderName(folder), text],
    );
    return rows.map((r) => Number(r.uid));
  }

  /**
   * A sound narrowing for a substring search: every message holding `needle` holds each of
   * its whole inner words (ASCII letters and digits between white space of the needle) as a
   * lexeme, and its last word as a lexeme's prefix; bodies whose text was too long to index
   * whole (no vector) are always candidates. undefined when the needle has no such word
   * (a single word may be the inside of a longer one).
   */
  async textCandidates(user: string, folder: string, needle: string): Promise<ReadonlySet<number> | undefined> {
    const query = narrowingQuery(needle);
    if (query === undefined) return undefined;
    const rows = await this.store.query<{ uid: string }>(
      `SELECT m.uid FROM mail_messages m JOIN mail_folders fo ON fo.id = m.folder_id JOIN mail_bodies b ON b.hash = m.body_hash
       WHERE fo.owner = $1 AND fo.name = $2 AND (b.search IS NULL OR b.search @@ to_tsquery('simple', $3))`,
      [ownerOf(user), checkFolderName(folder), query],
    );
    return new Set(rows.map((r) => Number(r.uid)));
  }

  /**
   * Every folder's messages whose text holds each run of the needles anywhere (search-words.ts:
   * LIKE through the pg_trgm GIN index, or a scan of the account's texts without it); bodies
   * without a kept text (stored before it was kept, or too long to index) are always
   * candidates. By folder name, their keys.
   */
  async wordCandidates(user: string, needles: readonly string[]): Promise<ReadonlyMap<string, ReadonlySet<string>> | undefined> {
    const patterns = gramsPatterns(needles);
    if (patterns === undefined) return undefined;
    const like = patterns.map((_, i) => `b.grams LIKE $${i + 2}`).join(' AND ');
    const rows = await this.store.query<{ name: string; key: string }>(
      // two branches, so the planner may start from the trigram index when the runs are rare
      `SELECT fo.name, m.key FROM mail_messages m JOIN mail_folders fo ON fo.id = m.folder_id JOIN mail_bodies b ON b.hash = m.body_hash
       WHERE fo.owner = $1 AND ${like}
       UNION ALL
       SELECT fo.name, m.key FROM mail_messages m JOIN mail_folders fo ON fo.id = m.folder_id JOIN mail_bodies b ON b.hash = m.body_hash
       WHERE fo.owner = $1 AND b.grams IS NULL`,
      [ownerOf(user), ...patterns],
    );
    const out = new Map<string, Set<string>>();
    for (const r of rows) {
      const name = displayName(r.name);
      const keys = out.get(name) ?? new Set<string>();
      keys.add(r.key);
      out.set(name, keys);
    }
    return out;
  }

  expungeHistory(user: string, folder: string): Promise<ExpungeHistory> {
    return pgExpungeHistory(this.store, user, folder);
  }

  watch(user: string, folder: string, onChange: () => void): () => void {
    return this.store.notifier.watch(ownerOf(user), checkFolderName(folder), onChange);
  }
}
