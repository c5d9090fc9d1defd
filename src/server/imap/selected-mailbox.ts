/**
 * @module selected-mailbox
 * One session's view of its selected mailbox: messages by sequence number, their UIDs, flags,
 * keywords and MODSEQs as this session last reported them, and the untagged updates (EXISTS,
 * EXPUNGE or VANISHED, FETCH FLAGS with MODSEQ, FLAGS when a new keyword appears) that bring
 * the client up to date with the store when the rules allow. The QRESYNC and CHANGEDSINCE
 * answers are view-resync's, from the store's changes.
 * Standards: RFC 9051 §7.5.1 (EXPUNGE renumbers; never sent during FETCH, STORE or SEARCH, nor
 *   when no command is in progress), §7.4.1 (EXISTS), §2.3.2 (system flags), §7 (a server
 *   reports other sessions' changes); the Maildir info flags: D Draft, F Flagged, P Passed,
 *   R Replied, S Seen, T Trashed; RFC 7162 §3.1.4.2 (with CONDSTORE on, every unsolicited
 *   FETCH FLAGS carries MODSEQ), §3.2.10 (with QRESYNC on, VANISHED replaces EXPUNGE).
 * Security: a message removed by someone else while the session may not yet report it stays
 *   in the view (FETCH of it answers no data) so sequence numbers never shift silently.
 * Limitations: \Recent is per store (recentFrom) and IMAP4rev1 only; the store is looked at
 *   only after a change was signalled (hub or file system watch) or a second has passed; a look
 *   costs O(changes) with a store that tells deltas (syncDelta), else O(messages). The view's
 *   messages are a chunked list (util/chunked-list) forked from the snapshot's, so a message
 *   come, changed or expunged costs a chunk's copy at most, not the view's; it is read one
 *   message at a time (`at`, `entries`, `each`), never as an array.
 */
import type { FolderDelta, FolderMessage, FolderSnapshot, MailFolderStore } from '../../core/index.js';
import { formatSequenceSet, inSequenceSet, isSavedResult, type SequenceSet } from '../../protocol/imap/index.js';
import { ChunkedList } from '../../util/index.js';
import { flagsOf, systemFlags } from './message-flags.js';
import { changedIn, resyncLines, vanishedLine } from './view-resync.js';

/**
 * A message as this session last reported it (flags, keywords, MODSEQ). At SELECT the view's
 * entries are the snapshot's own messages, shared with the folder state and other sessions
 * (no copy of each); the view copies one when it first changes it (copy on write): a reference
 * taken before a change of this session's (took, markGone) may be the old one, so read the
 * message again by its sequence number after one.
 */
export interface ViewMessage extends FolderMessage {
  /** removed from the store, not yet reported with EXPUNGE */
  readonly gone?: boolean;
  /** IMAP4rev1 \Recent: this session is the first told of it (RFC 3501 §2.3.2) */
  readonly recent?: boolean;
}

/** A message the view owns (copied from the snapshot's), changed in place. */
type OwnMessage = { -readonly [K in keyof ViewMessage]: ViewMessage[K] };

/** Whether a session has CONDSTORE or QRESYNC on (RFC 7162 §3.1, §3.2.3). */
export interface SyncModes {
  readonly condstore: boolean;
  readonly qresync: boolean;
  /** IMAP4rev2 enabled: no \Recent (RFC 9051 Appendix E) */
  readonly rev2: boolean;
}

const uidOf = (m: ViewMessage): number => m.uid;

export class SelectedMailbox {
  /** the view's messages by sequence number - 1: see ViewMessage */
  #list = ChunkedList.from<ViewMessage>([]);
  uidValidity = 0;
  uidNext = 1;
  highestModseq = 1;
  /** RFC 5182: the UIDs of the last SEARCH ... RETURN (SAVE), named "$" in sequence sets */
  saved: ReadonlySet<number> = new Set();
  /** keywords announced in FLAGS (upper case → as written) */
  readonly keywords = new Map<string, string>();
  /** a change may be waiting in the store */
  dirty = false;
  private lastSync = 0;
  /** the store's version of the snapshot this view was last brought to (syncDelta) */
  private version: number | undefined;
  /** the messages this view copied (the others are the snapshot's, shared) */
  readonly #owned = new WeakSet<ViewMessage>();
  /** the UIDs of the messages marked gone and not yet reported (reportGone finds them by search) */
  #gone = new Set<number>();
  /** how many messages are \Recent and not gone (kept as they change: RECENT is O(1)) */
  #recent = 0;

  constructor(
    readonly user: string,
    /** the folder as the store names it ("INBOX" or the Maildir++ name) */
    readonly folder: string,
    readonly readOnly: boolean,
    private readonly store: MailFolderStore,
    private readonly modes: SyncModes,
  ) {}

  async open(): Promise<void> {
    const snap = await this.store.sync(this.user, this.folder);
    this.lastSync = Date.now();
    this.version = snap.version;
    this.uidValidity = snap.uidValidity;
    this.uidNext = snap.uidNext;
    this.highestModseq = snap.highestModseq;
    const from = await this.claimRecent(false);
    // the snapshot's messages themselves, their list forked (copy on write by chunk and by message: see ViewMessage)
    this.#list = snap.list instanceof ChunkedList ? (snap.list as ChunkedList<ViewMessage>).fork() : ChunkedList.from<ViewMessage>(snap.list);
    this.#gone = new Set();
    this.#recent = 0;
    for (let i = this.#list.length - 1; i >= 0 && this.#list.at(i)!.uid >= from; i--, this.#recent++) this.own(i).recent = true;
    this.learnKeywords(this.#list);
  }

  /** The message at sequence number `seq` (undefined outside 1..exists). */
  at(seq: number): ViewMessage | undefined {
    return this.#list.at(seq - 1);
  }

  /** Each message with its index (sequence number - 1), in order, read live as an array's entries are. */
  entries(): Generator<[number, ViewMessage]> {
    return this.#list.entries();
  }

  /** Calls `fn` with each message and its index (sequence number - 1) from index `from` on, in order, until it returns false. */
  each(fn: (m: ViewMessage, i: number) => boolean | void, from = 0): void {
    this.#list.each(fn, from);
  }

  /** The message at index `i`, copied into the view first if it is still the snapshot's. */
  private own(i: number): OwnMessage {
    const m = this.#list.at(i)!;
    if (this.#owned.has(m)) return m;
    const c: OwnMessage = { ...m };
    this.#owned.add(c);
    this.#list.set(i, c);
    return c;
  }

  /** Marks the message at `seq` as removed (reported by the next reportGone). */
  markGone(seq: number): void {
    if (this.#list.at(seq - 1)!.gone) return;
    const m = this.own(seq - 1);
    m.gone = true;
    this.#gone.add(m.uid);
    if (m.recent) this.#recent--;
  }

  /** How many messages are \Recent in this view (the RECENT response). */
  get recentCount(): number {
    return this.#recent;
  }

  /**
   * RFC 3501 §2.3.2: the first UID recent to this session, claimed from the store (so no other
   * session sees those as recent) unless read-only; `fresh`: only when new messages came.
   */
  private async claimRecent(fresh: boolean): Promise<number> {
    if (!this.store.recentFrom || this.modes.rev2 || (fresh && this.readOnly)) return Infinity;
    try {
      return await this.store.recentFrom(this.user, this.folder, !this.readOnly);
    } catch {
      return Infinity;
    }
  }

  /** The FLAGS list: system flags and every keyword in use. */
  get flagList(): string[] {
    return [...systemFlags, ...this.keywords.values()];
  }

  /** Adds keywords of `ms` to those announced; whether there was a new one. */
  learnKeywords(ms: Iterable<{ keywords: readonly string[] }>): boolean {
    let added = false;
    for (const m of ms) {
      for (const k of m.keywords) {
        const u = k.toUpperCase();
        if (!this.keywords.has(u)) {
          this.keywords.set(u, k);
          added = true;
        }
      }
    }
    return added;
  }

  /** The FLAGS and PERMANENTFLAGS lines (RFC 9051 §7.3.5, §7.1: "\*": keywords can be made). */
  flagLines(): string[] {
    const flags = this.flagList.join(' ');
    return [`* FLAGS (${flags})`, `* OK [PERMANENTFLAGS (${this.readOnly ? '' : `${flags} \\*`})] Flags permitted`];
  }

  /** The FETCH line that tells a flag change (UID always: QRESYNC needs it; MODSEQ with CONDSTORE). */
  flagsFetch(seq: number, m: ViewMessage, withFlags = true): string {
    const parts = [`UID ${m.uid}`];
    if (withFlags) parts.push(`FLAGS (${flagsOf(m).join(' ')})`);
    if (this.modes.condstore) parts.push(`MODSEQ (${m.modseq})`);
    return `* ${seq} FETCH (${parts.join(' ')})`;
  }

  /**
   * RFC 7162 §3.2.5.1, §3.2.6: the VANISHED (EARLIER) line for the UIDs of `set` expunged after
   * `since` (view-resync: never a UID this view still holds).
   */
  async vanishedEarlier(since: number, set: SequenceSet | undefined): Promise<string | undefined> {
    return vanishedLine(this, (await this.store.changesSince(this.user, this.folder, since)).vanished, set);
  }

  /** SELECT (QRESYNC): the VANISHED (EARLIER) and FETCH lines since `since` (view-resync resyncLines). */
  async resyncLines(since: number, known: SequenceSet | undefined): Promise<string[]> {
    return resyncLines(this, await this.store.changesSince(this.user, this.folder, since), since, known);
  }

  /** UID FETCH … (CHANGEDSINCE): the places changed after `since` and the VANISHED line (view-resync changedIn). */
  async changedIn(set: SequenceSet, since: number): Promise<{ places: number[]; vanished: string | undefined }> {
    return changedIn(this, await this.store.changesSince(this.user, this.folder, since), set, since);
  }

  /** The index of the first message whose UID is `uid` or above (the length when none is). */
  firstAtOrAbove(uid: number): number {
    const i = this.#list.search(uidOf, uid);
    return i >= 0 ? i : -i - 1;
  }

  /** Takes in messages changed by this session's own command. */
  took(changed: readonly FolderMessage[], highestModseq: number): string[] {
    const out = this.learnKeywords(changed) ? this.flagLines() : [];
    for (const c of changed) {
      const seq = this.seqOf(c.uid);
      if (seq === 0) continue;
      const m = this.own(seq - 1);
      m.flags = c.flags;
      m.keywords = c.keywords;
      m.modseq = c.modseq;
    }
    this.highestModseq = Math.max(this.highestModseq, highestModseq);
    return out;
  }

  get exists(): number {
    return this.#list.length;
  }

  get maxUid(): number {
    return this.#list.at(this.#list.length - 1)?.uid ?? 0;
  }

  /**
   * Whether the message `m` (at `seq`) is in `set`, read as UIDs or sequence numbers; "$" is
   * the saved result (RFC 5182 §2.1: the same messages for UID and sequence commands).
   */
  contains(set: SequenceSet, m: ViewMessage, seq: number, uid: boolean): boolean {
    if (isSavedResult(set)) return this.saved.has(m.uid);
    return uid ? inSequenceSet(set, m.uid, this.maxUid) : inSequenceSet(set, seq, this.exists);
  }

  /** The sequence number (1-based) of a UID, or 0. */
  seqOf(uid: number): number {
    const i = this.#list.search(uidOf, uid);
    return i >= 0 ? i + 1 : 0;
  }

  /**
   * refresh's lines without a promise when it would not look at the store (no change signalled,
   * not forced, looked within the last second); undefined when refresh must look.
   */
  refreshNow(expunge: boolean, force = false): string[] | undefined {
    if (force || this.dirty || Date.now() - this.lastSync >= 1000) return undefined;
    return expunge ? this.reportGone() : [];
  }

  /**
   * Looks at the store (when a change was signalled, or `force`, or a second passed) and
   * returns the untagged lines to send: FETCH FLAGS for changed flags, EXPUNGE (only when
   * `expunge` is allowed) and EXISTS.
   */
  async refresh(expunge: boolean, force = false): Promise<string[]> {
    const quiet = this.refreshNow(expunge, force);
    if (quiet) return quiet;
    this.dirty = false;
    let snap: FolderSnapshot;
    let delta: FolderDelta | undefined;
    try {
      delta = this.version !== undefined && this.store.syncDelta ? await this.store.syncDelta(this.user, this.folder, this.version) : undefined;
      snap = delta?.snapshot ?? (await this.store.sync(this.user, this.folder));
    } catch {
      return [];
    }
    this.lastSync = Date.now();
    const maxUid = this.maxUid;
    const fresh = delta ? delta.changed.some((m) => m.uid > maxUid) : (snap.list.at(snap.list.length - 1)?.uid ?? 0) > maxUid;
    const from = fresh ? await this.claimRecent(true) : Infinity;
    const out = delta ? this.applyDelta(delta, expunge, from) : this.apply(snap, expunge, from);
    this.version = snap.version;
    return out;
  }

  /** apply, from the changes since this view's version alone (O(changes)). */
  private applyDelta(d: FolderDelta, expunge: boolean, recentFrom: number): string[] {
    const out: string[] = [];
    if (d.snapshot.uidValidity !== this.uidValidity) throw new UidValidityChanged();
    if (this.learnKeywords(d.changed)) out.push(...this.flagLines());
    const known = this.maxUid;
    const lines: [number, string][] = [];
    for (const now of d.changed) {
      if (now.uid > known) continue;
      const seq = this.seqOf(now.uid);
      const was = seq === 0 ? undefined : this.#list.at(seq - 1);
      if (!was || was.gone || now.modseq === was.modseq) continue;
      const m = this.own(seq - 1);
      const flagsChanged = now.flags !== m.flags || now.keywords.join(' ') !== m.keywords.join(' ');
      m.flags = now.flags;
      m.keywords = now.keywords;
      m.modseq = now.modseq;
      m.key = now.key;
      if (flagsChanged || this.modes.condstore) lines.push([seq, this.flagsFetch(seq, m)]);
    }
    // in sequence order, as apply gives them
    lines.sort((a, b) => a[0] - b[0]);
    out.push(...lines.map((l) => l[1]));
    for (const uid of d.gone) {
      const seq = this.seqOf(uid);
      if (seq > 0) this.markGone(seq);
    }
    if (expunge) out.push(...this.reportGone());
    return this.takeFresh(out, d.changed.filter((m) => m.uid > known), d.snapshot, recentFrom);
  }

  /** Messages new to this view (EXISTS, and RECENT for IMAP4rev1), and the snapshot's UIDNEXT and HIGHESTMODSEQ. */
  private takeFresh(out: string[], fresh: readonly FolderMessage[], snap: FolderSnapshot, recentFrom: number): string[] {
    if (fresh.length > 0) {
      for (const m of fresh) {
        const c: OwnMessage = { ...m, recent: m.uid >= recentFrom };
        if (c.recent) this.#recent++;
        this.#owned.add(c);
        this.#list.push(c);
      }
      out.push(`* ${this.#list.length} EXISTS`);
      // RFC 3501 §7.3.2: RECENT with EXISTS when the number changes (IMAP4rev1 only)
      if (!this.modes.rev2 && this.store.recentFrom) out.push(`* ${this.recentCount} RECENT`);
    }
    this.uidNext = Math.max(this.uidNext, snap.uidNext);
    this.highestModseq = Math.max(this.highestModseq, snap.highestModseq);
    return out;
  }

  private apply(snap: FolderSnapshot, expunge: boolean, recentFrom: number): string[] {
    const out: string[] = [];
    if (snap.uidValidity !== this.uidValidity) {
      // RFC 9051 §2.3.1.1: the client must start again; the session ends (imap-session)
      throw new UidValidityChanged();
    }
    if (this.learnKeywords(snap.list)) out.push(...this.flagLines());
    // both ascend by UID: the snapshot's message of each of the view's is found by walking along
    const them = snap.list[Symbol.iterator]();
    let next = them.next();
    for (const [i, was] of this.#list.entries()) {
      while (!next.done && next.value.uid < was.uid) next = them.next();
      const now = !next.done && next.value.uid === was.uid ? next.value : undefined;
      if (!now) {
        if (!was.gone) this.markGone(i + 1);
        continue;
      }
      if (!was.gone && now.modseq !== was.modseq) {
        const m = this.own(i);
        const flagsChanged = now.flags !== m.flags || now.keywords.join(' ') !== m.keywords.join(' ');
        m.flags = now.flags;
        m.keywords = now.keywords;
        m.modseq = now.modseq;
        if (flagsChanged || this.modes.condstore) out.push(this.flagsFetch(i + 1, m));
      }
      if (now.key !== this.#list.at(i)!.key) this.own(i).key = now.key;
    }
    if (expunge) out.push(...this.reportGone());
    const fresh: FolderMessage[] = [];
    const first = snap.list.search(uidOf, this.maxUid + 1);
    for (let i = first >= 0 ? first : -first - 1; i < snap.list.length; i++) fresh.push(snap.list.at(i)!);
    return this.takeFresh(out, fresh, snap, recentFrom);
  }

  /**
   * EXPUNGE lines for messages gone from the store, highest first, so numbers stay valid; with
   * QRESYNC on, one VANISHED line instead (RFC 7162 §3.2.10).
   */
  reportGone(): string[] {
    // nothing gone (most commands): no look at the view
    if (this.#gone.size === 0) return [];
    const out: string[] = [];
    const uids: number[] = [];
    const at: number[] = [];
    let recentGone = false;
    // highest first (UIDs ascend with sequence numbers), each found by search
    for (const uid of [...this.#gone].sort((a, b) => b - a)) {
      const i = this.seqOf(uid) - 1;
      if (i < 0) continue;
      out.push(`* ${i + 1} EXPUNGE`);
      uids.push(uid);
      at.push(i);
      recentGone ||= this.#list.at(i)!.recent === true;
    }
    // a few cut out (highest first, so the others' places hold; a chunk's copy at most each), many in one pass
    if (at.length <= 64) for (const i of at) this.#list.removeAt(i);
    else this.#list.filterInPlace((m) => !m.gone);
    this.#gone = new Set();
    if (this.modes.qresync && uids.length > 0) return [`* VANISHED ${formatSequenceSet(uids.reverse())}`];
    // RFC 3501 §7.3.2: RECENT when the size of the mailbox changes, here by recent messages gone (IMAP4rev1 only)
    if (recentGone && !this.modes.rev2 && this.store.recentFrom) out.push(`* ${this.recentCount} RECENT`);
    return out;
  }
}

export class UidValidityChanged extends Error {}
