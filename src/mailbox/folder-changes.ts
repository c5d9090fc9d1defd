/**
 * @module folder-changes
 * What changed between a folder's snapshots (maildir-folder-state): the difference of two
 * snapshots, a snapshot patched with the messages that changed and without those gone, deltas
 * merged over several versions, and the messages changed after a MODSEQ (from the folder's
 * MODSEQ log where it reaches back, else a walk). Pure functions on messages in ascending UID
 * order; each is O(changes) but for the walk and the diff of a whole listing. A snapshot's
 * messages are a chunked list (util/chunked-list): the next snapshot is a fork of it with the
 * chunks of the changed messages copied, so a step costs O(changes × chunk), not O(messages).
 * Standards: RFC 7162 §3.1 (MODSEQ), RFC 9051 §2.3.1.1 (UIDs ascending).
 * Security: no input from clients.
 * Limitations: a snapshot is never changed once made (sessions share it): patchMessages forks
 *   it.
 */
import type { FolderMessage, FolderSnapshot } from '../core/index.js';
import { ChunkedList } from '../util/index.js';
import type { ModseqLog } from './modseq-log.js';

/** A snapshot whose messages are a chunked list (`list`, not enumerable). */
export type ListSnapshot = FolderSnapshot & { readonly version: number; readonly list: ChunkedList<FolderMessage> };

/** The snapshot of `head` with the messages of `list`. */
export function listSnapshot(
  head: { readonly uidValidity: number; readonly uidNext: number; readonly highestModseq: number },
  list: ChunkedList<FolderMessage>,
  version: number,
): ListSnapshot {
  const snap = { uidValidity: head.uidValidity, uidNext: head.uidNext, highestModseq: head.highestModseq, version };
  return Object.defineProperty(snap, 'list', { value: list, enumerable: false }) as ListSnapshot;
}

const uidOf = (m: FolderMessage): number => m.uid;

/** What changed from one snapshot version to the next (or over several, merged). */
export interface Delta {
  readonly from: number;
  readonly to: number;
  /** messages that came or changed, as in the later snapshot (UID order) */
  readonly changed: readonly FolderMessage[];
  readonly gone: readonly number[];
  /** the keys of the messages gone */
  readonly goneKeys: readonly string[];
}

/** The index of `uid` in `ms` (ascending UIDs), or the negated insertion point minus one: O(log n). */
export function findUid(ms: ChunkedList<FolderMessage>, uid: number): number {
  return ms.search(uidOf, uid);
}

/** A UID's MODSEQ in `ms` (ascending UIDs); undefined when it is not there. */
export function modseqIn(ms: ChunkedList<FolderMessage>): (uid: number) => number | undefined {
  return (uid) => ms.at(findUid(ms, uid))?.modseq;
}

/** Messages of `b` new or changed from `a`, and UIDs of `a` gone in `b` (both in UID order). */
export function diff(a: readonly FolderMessage[], b: readonly FolderMessage[]): { changed: FolderMessage[]; gone: number[]; goneKeys: string[] } {
  const changed: FolderMessage[] = [];
  const gone: number[] = [];
  const goneKeys: string[] = [];
  const drop = (m: FolderMessage): void => {
    gone.push(m.uid);
    goneKeys.push(m.key);
  };
  let i = 0;
  for (const m of b) {
    while (i < a.length && a[i].uid < m.uid) drop(a[i++]);
    const o = i < a.length && a[i].uid === m.uid ? a[i++] : undefined;
    if (!o || o.modseq !== m.modseq || o.flags !== m.flags || o.keywords.join(' ') !== m.keywords.join(' ')) changed.push(m);
  }
  while (i < a.length) drop(a[i++]);
  return { changed, gone, goneKeys };
}

/** Deltas of consecutive versions merged into one (the first's `from` to the last's `to`). */
export function mergeDeltas(deltas: readonly Delta[]): Delta {
  const changed = new Map<number, FolderMessage>();
  const gone = new Map<number, string>();
  for (const d of deltas) {
    d.gone.forEach((u, j) => {
      gone.set(u, d.goneKeys[j]);
      changed.delete(u);
    });
    for (const m of d.changed) changed.set(m.uid, m);
  }
  return { from: deltas[0].from, to: deltas[deltas.length - 1].to, changed: [...changed.values()].sort((a, b) => a.uid - b.uid), gone: [...gone.keys()], goneKeys: [...gone.values()] };
}

/**
 * `prev` without the UIDs `gone` and with `changed` (ascending UIDs) in place: a fork of it,
 * which copies only the chunks it changes (prev, shared, stays as it was).
 */
export function patchMessages(prev: ChunkedList<FolderMessage>, changed: readonly FolderMessage[], gone: readonly number[]): ChunkedList<FolderMessage> {
  const messages = prev.fork();
  if (gone.length > 64) {
    const g = new Set(gone);
    messages.filterInPlace((m) => !g.has(m.uid));
  } else {
    // a few (an expunge, a MOVE): each found by search and cut out, not a test of every message
    for (const u of gone) {
      const i = findUid(messages, u);
      if (i >= 0) messages.removeAt(i);
    }
  }
  for (const m of changed) {
    const i = findUid(messages, m.uid);
    if (i >= 0) messages.set(i, m);
    else messages.insert(-i - 1, m);
  }
  return messages;
}

/**
 * The messages of `ms` whose MODSEQ is above `since`, ascending UID: from `log` (O(changes))
 * where it reaches back that far, else a walk, also when the log would give most of them.
 */
export function changedSince(ms: ChunkedList<FolderMessage>, log: ModseqLog, since: number): FolderMessage[] {
  const count = log.countAbove(since);
  const uids = count !== undefined && count <= ms.length / 4 ? log.since(since, modseqIn(ms)) : undefined;
  const out: FolderMessage[] = [];
  if (!uids) {
    ms.each((m) => {
      if (m.modseq > since) out.push(m);
    });
    return out;
  }
  for (const u of uids) out.push(ms.at(findUid(ms, u))!);
  return out;
}
