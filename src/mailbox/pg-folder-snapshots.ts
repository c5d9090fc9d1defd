/**
 * @module pg-folder-snapshots
 * The last snapshot of each PostgreSQL folder this process synced, brought up to date in
 * O(changes): one statement reads the folder's head, the messages whose MODSEQ is above the
 * kept snapshot's HIGHESTMODSEQ (index mail_messages_modseq) and the UIDs expunged after it
 * (mail_expunged_modseq), and the next snapshot is the kept one's chunked list forked with
 * the chunks of those messages copied (folder-changes patchMessages), as the Maildir folder
 * state does. Every change of a folder, by any node, runs under the folder row's lock and
 * gives its messages (or its expunge records) one MODSEQ above the row's HIGHESTMODSEQ,
 * raised in the same transaction: one statement sees a change whole or not at all, so the
 * kept snapshot and the rows above its MODSEQ make the folder as a full read would.
 * The changes between the last 256 snapshots are kept too, so a session is told them in
 * O(changes) (syncDelta) instead of comparing its view with the whole snapshot.
 * The folder is read whole (O(messages)) when no snapshot of it is kept, or when its row is
 * another one (deleted and made again, another UIDVALIDITY) than the kept one's. The expunge
 * records of a folder are never pruned (they go with the folder's row), so they always reach
 * back to a kept snapshot; a store that prunes them must read whole below what it keeps.
 * Standards: RFC 7162 §3.1 (MODSEQs only grow), RFC 9051 §2.3.1.1 (UIDs not reused in a
 *   UIDVALIDITY).
 * Security: owners and names come checked from pg-mail-folders; bound parameters only.
 * Limitations: per process, the last `maxFolders` (1,000) folders synced and at most
 *   `maxMessages` (1,000,000, about 200 MB) of their messages, least recently synced dropped
 *   first (a folder bigger than that is read whole each time). A writer that gave a message a
 *   MODSEQ at or below the folder's HIGHESTMODSEQ would be seen only at a whole read: none does
 *   (`correio migrate`'s import too raises it, pg-mail-import).
 */
import type { FolderDelta, FolderMessage, FolderSnapshot } from '../core/index.js';
import { ChunkedList } from '../util/index.js';
import { listSnapshot, mergeDeltas, patchMessages, type Delta, type ListSnapshot } from './folder-changes.js';
import { messageColumns, type MessageRow, type PgMailStore } from './pg-mail-store.js';

/** folders whose last snapshot is kept */
export const maxFolders = 1000;
/** messages of the kept snapshots, together */
export const maxMessages = 1_000_000;

export function folderMessage(r: MessageRow): FolderMessage {
  return {
    uid: Number(r.uid),
    key: r.key,
    flags: r.flags,
    keywords: r.keywords,
    modseq: Number(r.modseq),
    size: Number(r.size),
    receivedAt: Number(r.received_at),
  };
}

/** changes between snapshot versions kept per folder for syncDelta */
const maxDeltas = 256;

interface Kept {
  /** the folder row's id: a folder deleted and made again under the name has another */
  readonly id: string;
  readonly snapshot: ListSnapshot;
  /** the changes that led to `snapshot`, the last `maxDeltas` (versions in order) */
  readonly deltas: readonly Delta[];
}

type HeadRow = { id: string; uid_validity: string; uid_next: string; highest_modseq: string };
type Row = HeadRow & Partial<MessageRow>;

const mColumns = messageColumns.split(', ').map((c) => `m.${c}`).join(', ');

/** The snapshot's head of a row. */
function headOf(r: HeadRow): { uidValidity: number; uidNext: number; highestModseq: number } {
  return { uidValidity: Number(r.uid_validity), uidNext: Number(r.uid_next), highestModseq: Number(r.highest_modseq) };
}

/** The rows' messages (a LEFT JOIN's row without one left out). */
function messagesOf(rows: readonly Row[]): FolderMessage[] {
  const out: FolderMessage[] = [];
  for (const r of rows) if (r.uid !== null && r.uid !== undefined) out.push(folderMessage(r as MessageRow));
  return out;
}

export class PgFolderSnapshots {
  /** by owner and name, least recently synced first */
  readonly #kept = new Map<string, Kept>();
  #messages = 0;
  #versions = 0;

  constructor(
    private readonly store: PgMailStore,
    private readonly limits = { folders: maxFolders, messages: maxMessages },
  ) {}

  /** The folder's snapshot (see the module header); undefined when it has no row. */
  async sync(owner: string, f: string): Promise<FolderSnapshot | undefined> {
    const name = `${owner}\0${f}`;
    const k = this.#kept.get(name);
    const next = k ? await this.#delta(owner, f, k) : await this.#full(owner, f);
    if (!next) {
      this.#drop(name);
      return undefined;
    }
    this.#keep(name, next);
    return next.snapshot;
  }

  /** The folder read whole (one statement: the head and the messages of one snapshot). */
  async #full(owner: string, f: string): Promise<Kept | undefined> {
    const rows = await this.store.query<Row>(
      `SELECT fo.id, fo.uid_validity, fo.uid_next, fo.highest_modseq, ${mColumns}
       FROM mail_folders fo LEFT JOIN mail_messages m ON m.folder_id = fo.id
       WHERE fo.owner = $1 AND fo.name = $2 ORDER BY m.uid`,
      [owner, f],
    );
    if (!rows[0]) return undefined;
    return { id: rows[0].id, snapshot: listSnapshot(headOf(rows[0]), ChunkedList.from(messagesOf(rows)), ++this.#versions), deltas: [] };
  }

  /**
   * The kept snapshot brought up to date (one statement: the head, the messages changed after
   * its MODSEQ and the UIDs expunged after it); the folder read whole when its row is another.
   */
  async #delta(owner: string, f: string, k: Kept): Promise<Kept | undefined> {
    const was = k.snapshot;
    const rows = await this.store.query<Row & { gone: string[] | null }>(
      `WITH fo AS (SELECT id, uid_validity, uid_next, highest_modseq FROM mail_folders WHERE owner = $1 AND name = $2),
       x AS (SELECT array_agg(e.uid ORDER BY e.uid) AS gone FROM fo JOIN mail_expunged e ON e.folder_id = fo.id AND e.modseq > $3 WHERE fo.id = $4)
       SELECT fo.id, fo.uid_validity, fo.uid_next, fo.highest_modseq, x.gone, ${mColumns}
       FROM fo CROSS JOIN x LEFT JOIN mail_messages m ON m.folder_id = fo.id AND fo.id = $4 AND m.modseq > $3
       ORDER BY m.uid`,
      [owner, f, was.highestModseq, k.id],
    );
    const head = rows[0];
    if (!head) return undefined;
    if (head.id !== k.id || Number(head.uid_validity) !== was.uidValidity) return this.#full(owner, f);
    const h = headOf(head);
    const changed = messagesOf(rows);
    const gone = (head.gone ?? []).map(Number);
    if (changed.length === 0 && gone.length === 0 && h.highestModseq === was.highestModseq && h.uidNext === was.uidNext) return k;
    const snapshot = listSnapshot(h, patchMessages(was.list, changed, gone), ++this.#versions);
    const d: Delta = { from: was.version, to: snapshot.version, changed, gone, goneKeys: gone.map(() => '') };
    return { id: k.id, snapshot, deltas: [...k.deltas.slice(1 - maxDeltas), d] };
  }

  /**
   * `next` kept as the folder's last (unless a newer one of the same row was kept meanwhile,
   * by a sync that began later), the least recently synced dropped past the limits.
   */
  #keep(name: string, next: Kept): void {
    const cur = this.#kept.get(name);
    if (cur && cur !== next && cur.id === next.id && cur.snapshot.uidValidity === next.snapshot.uidValidity && cur.snapshot.highestModseq > next.snapshot.highestModseq) return;
    this.#drop(name);
    if (next.snapshot.list.length > this.limits.messages) return;
    this.#kept.set(name, next);
    this.#messages += next.snapshot.list.length;
    while (this.#kept.size > this.limits.folders || this.#messages > this.limits.messages) this.#drop(this.#kept.keys().next().value as string);
  }

  /**
   * The folder's snapshot (as sync) with what changed since the snapshot of `version`
   * (syncDelta in core MailFolderStore): O(changes); undefined when those changes are not kept
   * (older than the last 256 syncs, or the folder was read whole since).
   */
  async delta(owner: string, f: string, version: number): Promise<FolderDelta | undefined> {
    const snapshot = await this.sync(owner, f);
    const k = this.#kept.get(`${owner}\0${f}`);
    if (!snapshot || k?.snapshot !== snapshot) return undefined;
    if (version === snapshot.version) return { snapshot, changed: [], gone: [] };
    const i = k.deltas.findIndex((d) => d.from === version);
    if (i < 0) return undefined;
    const d = mergeDeltas(k.deltas.slice(i));
    return { snapshot, changed: d.changed, gone: d.gone };
  }

  #drop(name: string): void {
    const k = this.#kept.get(name);
    if (!k) return;
    this.#kept.delete(name);
    this.#messages -= k.snapshot.list.length;
  }

  /** How many folders' snapshots are kept, and their messages together (for tests and metrics). */
  get size(): { folders: number; messages: number } {
    return { folders: this.#kept.size, messages: this.#messages };
  }
}
