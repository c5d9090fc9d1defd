/**
 * @module esearch-response
 * The untagged ESEARCH response of an extended SEARCH or SORT.
 * Standards: RFC 4731 §3.2 (ESEARCH (TAG "t") [UID] MIN MAX COUNT ALL), RFC 5267 §3.2 (for
 *   SORT: MIN and MAX are the first and last in sort order, ALL lists the messages in sort
 *   order), RFC 9394 §3.1 (PARTIAL (range set-or-NIL): the messages at those positions of the
 *   result; MIN, MAX and COUNT still describe the whole result).
 * Security: the tag holds neither '"' nor '\\' (RFC 9051 §9), so it is quoted as it is.
 * Limitations: none known.
 */
import { formatPartialRange, formatSequenceSet, partialSlice, type PartialRange } from '../../protocol/imap/index.js';

/** Numbers in the order given: ascending runs of consecutive numbers as ranges (RFC 5267 §3.2). */
function inOrder(nums: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    out.push(j > i ? `${nums[i]}:${nums[j]}` : String(nums[i]));
    i = j + 1;
  }
  return out.join(',');
}

/**
 * The words of "ESEARCH ..." for `nums` (message numbers or UIDs, in result order: ascending
 * for SEARCH, sort order for SORT), without the MODSEQ that SEARCH may add.
 */
export function esearchParts(tag: string, uid: boolean, want: ReadonlySet<string>, nums: readonly number[], sorted: boolean, partial?: PartialRange): string[] {
  const set = (xs: readonly number[]): string => (sorted ? inOrder(xs) : formatSequenceSet(xs));
  const parts = [`ESEARCH (TAG "${tag}")`];
  if (uid) parts.push('UID');
  if (nums.length > 0) {
    if (want.has('MIN')) parts.push(`MIN ${nums[0]}`);
    if (want.has('MAX')) parts.push(`MAX ${nums[nums.length - 1]}`);
  }
  if (want.has('COUNT')) parts.push(`COUNT ${nums.length}`);
  if (want.has('ALL') && nums.length > 0) parts.push(`ALL ${set(nums)}`);
  if (partial) {
    const some = partialSlice(nums, partial);
    parts.push(`PARTIAL (${formatPartialRange(partial)} ${some.length === 0 ? 'NIL' : set(some)})`);
  }
  return parts;
}
