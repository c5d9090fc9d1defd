/**
 * @module list-member
 * What a mailing-list member may be: one rule, used where members are added (`correio list
 * add`), where the list transport re-injects a copy, and where `correio resolve` shows the
 * members, so the three always agree.
 * A member is a full RFC 5321 mailbox ("local-part@domain"), nothing else: alias-target forms
 * (a "|command", a "/file", an ":include:", an "error:" refusal, a "\local" mailbox-only name,
 * a bare local name) are refused, even where the text would also parse as an address
 * ("|/usr/bin/touch@example.org" has an RFC 5321 Dot-string local part).
 * Standards: RFC 5321 §4.1.2 (Mailbox), §3.9.2 (a list's members are addresses);
 *   RFC 3463 X.1.3 (bad destination mailbox address syntax).
 * Security: pipes and files only ever come from the operator's aliases (and safe include
 *   files), never from list members, which list owners manage.
 * Limitations: none.
 */
import type { Address } from '../core/index.js';
import { parseTargetString } from './target-syntax.js';

export type ListMember = { ok: true; address: Address } | { ok: false; reason: string };

const forms: Readonly<Record<string, string>> = {
  pipe: 'a "|command" is not a list member (members are addresses)',
  file: 'a file is not a list member (members are addresses)',
  include: 'an ":include:" file is not a list member (members are addresses)',
  error: 'an "error:" target is not a list member (members are addresses)',
  'mailbox-only': 'a "\\name" target is not a list member (members are addresses)',
  local: 'expected a full address, local-part@domain',
};

/** Classifies a member text: its address, or why it is not a list member. */
export function parseListMember(text: string): ListMember {
  const t = parseTargetString(text);
  if (t.kind === 'address') return { ok: true, address: t.address };
  if (t.kind === 'bad') return { ok: false, reason: t.message };
  return { ok: false, reason: forms[t.kind] ?? 'not an address' };
}
