/**
 * @module view-resync
 * What a session's view of its selected mailbox (selected-mailbox) answers from the store's
 * changes since a MODSEQ, not from a walk of the view: the VANISHED (EARLIER) line, the FETCH
 * lines of a QRESYNC SELECT, and the messages a UID FETCH (CHANGEDSINCE) names. The view's
 * places are found by search (seqOf, firstAtOrAbove), so each answer costs O(changes · log n).
 * Standards: RFC 7162 §3.1.4.1 (CHANGEDSINCE), §3.2.5.1 (QRESYNC SELECT), §3.2.6 (VANISHED
 *   (EARLIER): never a UID the view still holds, since EARLIER does not change the count).
 * Security: no input but the client's sequence sets, already parsed; UIDs outside the view are
 *   left out.
 * Limitations: a message expunged from the store and not yet reported by the session is left
 *   out of CHANGEDSINCE (a UID FETCH gives no data for it either way).
 */
import type { FolderChanges, FolderMessage } from '../../core/index.js';
import { formatRanges, inSequenceSet, intersectRanges, mergeRanges, subtractNumbers, type SequenceSet } from '../../protocol/imap/index.js';

/** What these answers read of a view (SelectedMailbox's methods of the same names). */
interface View {
  readonly uidNext: number;
  readonly maxUid: number;
  at(seq: number): FolderMessage | undefined;
  each(fn: (m: FolderMessage, i: number) => boolean | void, from?: number): void;
  seqOf(uid: number): number;
  firstAtOrAbove(uid: number): number;
  contains(set: SequenceSet, m: FolderMessage, seq: number, uid: boolean): boolean;
  flagsFetch(seq: number, m: FolderMessage): string;
}

/** The VANISHED (EARLIER) line of `vanished` within `set`, less the UIDs the view holds (found by search, not a walk). */
export function vanishedLine(view: View, vanished: FolderChanges['vanished'], set: SequenceSet | undefined): string | undefined {
  const max = Math.max(view.uidNext - 1, view.maxUid, 1);
  const within = set ? intersectRanges(vanished, set, max) : mergeRanges(vanished);
  const held: number[] = [];
  for (const r of within) {
    view.each((m) => {
      if (m.uid > r.to) return false;
      held.push(m.uid);
    }, view.firstAtOrAbove(r.from));
  }
  const left = subtractNumbers(within, held);
  return left.length > 0 ? `* VANISHED (EARLIER) ${formatRanges(left)}` : undefined;
}

/**
 * RFC 7162 §3.2.5.1 at SELECT (QRESYNC): the VANISHED (EARLIER) line, then FETCH of the
 * messages of the view changed after `since` among the UIDs `known`, in sequence order.
 */
export function resyncLines(view: View, ch: FolderChanges, since: number, known: SequenceSet | undefined): string[] {
  const out: string[] = [];
  const vanished = vanishedLine(view, ch.vanished, known);
  if (vanished) out.push(vanished);
  for (const c of ch.changed) {
    const seq = view.seqOf(c.uid);
    const x = seq === 0 ? undefined : view.at(seq);
    if (x && x.modseq > since && (!known || inSequenceSet(known, x.uid, view.maxUid))) out.push(view.flagsFetch(seq, x));
  }
  return out;
}

/**
 * UID FETCH … (CHANGEDSINCE since [VANISHED]), RFC 7162 §3.1.4.1, §3.2.6: the places of the
 * messages of `set` (UIDs) whose MODSEQ as the view knows it is above `since`, and the
 * VANISHED (EARLIER) line.
 */
export function changedIn(view: View, ch: FolderChanges, set: SequenceSet, since: number): { places: number[]; vanished: string | undefined } {
  const places: number[] = [];
  for (const c of ch.changed) {
    const seq = view.seqOf(c.uid);
    const m = seq === 0 ? undefined : view.at(seq);
    if (m && m.modseq > since && view.contains(set, m, seq, true)) places.push(seq - 1);
  }
  return { places, vanished: vanishedLine(view, ch.vanished, set) };
}
