/**
 * @module folder-changes
 * What changed between a folder's snapshots (maildir-folder-state): the difference of two
 * snapshots, a snapshot patched with the messages that changed and without those gone, deltas
 * merged over several versions, and the messages changed after a MODSEQ (from the folder's
 * MODSEQ log where it reaches back, else a walk). Pure functions on messages in ascending UID
 * order; each is O(changes) but for the walk and the diff of a whole listing.
 * Standards: RFC 7162 §3.1 (MODSEQ), RFC 9051 §2.3.1.1 (UIDs ascending).
 * Security: no input from clients.
 * Limitations: patchMessages copies the snapshot's array of references (a snapshot is never
 *   changed once made: sessions share it).
 */
import type { FolderMessage } from '../core/index.js';
import type { ModseqLog } from './modseq-log.js';

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

/** The index of `uid` in `ms` (ascending UIDs), or the negated insertion point minus one. */
export function findUid(ms: readonly FolderMessage[], uid: number): number {
  let lo = 0;
  let hi = ms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const u = ms[mid].uid;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** A UID's MODSEQ in `ms` (ascending UIDs); undefined when it is not there. */
export function modseqIn(ms: readonly FolderMessage[]): (uid: number) => number | undefined {
  return (uid) => {
    const i = findUid(ms, uid);
    return i >= 0 ? ms[i].modseq : undefined;
  };
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

/** `prev` without the UIDs `gone` and with `changed` (ascending UIDs) in place: a new array. */
export function patchMessages(prev: readonly FolderMessage[], changed: readonly FolderMessage[], gone: readonly number[]): FolderMessage[] {
  let messages = prev.slice();
  if (gone.length > 64) {
    const g = new Set(gone);
    messages = messages.filter((m) => !g.has(m.uid));
  } else {
    // a few (an expunge, a MOVE): each found by search and cut out, not a test of every message
    for (const u of gone) {
      const i = findUid(messages, u);
      if (i >= 0) messages.splice(i, 1);
    }
  }
  for (const m of changed) {
    const i = findUid(messages, m.uid);
    if (i >= 0) messages[i] = m;
    else messages.splice(-i - 1, 0, m);
  }
  return messages;
}

/**
 * The messages of `ms` whose MODSEQ is above `since`, ascending UID: from `log` (O(changes))
 * where it reaches back that far, else a walk, also when the log would give most of them.
 */
export function changedSince(ms: readonly FolderMessage[], log: ModseqLog, since: number): FolderMessage[] {
  const count = log.countAbove(since);
  const uids = count !== undefined && count <= ms.length / 4 ? log.since(since, modseqIn(ms)) : undefined;
  if (!uids) return ms.filter((m) => m.modseq > since);
  const out: FolderMessage[] = [];
  for (const u of uids) out.push(ms[findUid(ms, u)]);
  return out;
}
