/**
 * @module list-member
 * What a mailing-list member may be: one rule, used where members are added (`correio list
 * add`), where the list transport re-injects a copy, and where `correio resolve` shows the
 * members, so the three always agree. The same rule holds for a list's owner and a role's
 * holder (parseDirectoryTarget), which are set by `correio list create --owner` and `correio
 * role set` and followed by the resolver.
 * A member is a full RFC 5321 mailbox ("local-part@domain"), nothing else: alias-target forms
 * (a "|command", a "/file", an ":include:", an "error:" refusal, a "\local" mailbox-only name,
 * a bare local name) are refused, even where the text would also parse as an address
 * ("|/usr/bin/touch@example.org" has an RFC 5321 Dot-string local part).
 * Standards: RFC 5321 §4.1.2 (Mailbox), §3.9.2 (a list's members are addresses);
 *   RFC 3463 X.1.3 (bad destination mailbox address syntax).
 * Security: pipes and files only ever come from the operator's aliases (and safe include
 *   files), never from list members, owners or role holders, which others may manage.
 * Limitations: none.
 */
import type { Address } from '../core/index.js';
import { parseTargetString } from './target-syntax.js';

export type ListMember = { ok: true; address: Address } | { ok: false; reason: string };

/** The alias-target forms that are not addresses, as a reason names them. */
const forms: Readonly<Record<string, string>> = {
  pipe: 'a "|command"',
  file: 'a file',
  include: 'an ":include:" file',
  error: 'an "error:" target',
  'mailbox-only': 'a "\\name" target',
};

/**
 * Classifies the text of a directory entry that must be an address (a list's member or owner,
 * a role's holder): its address, or why it is not one. `what` and `plural` name the entry in
 * the reason ("a list member", "members").
 */
export function parseDirectoryTarget(text: string, what: string, plural: string): ListMember {
  const t = parseTargetString(text);
  if (t.kind === 'address') return { ok: true, address: t.address };
  if (t.kind === 'bad') return { ok: false, reason: t.message };
  if (t.kind === 'local') return { ok: false, reason: 'expected a full address, local-part@domain' };
  const form = forms[t.kind];
  return { ok: false, reason: form ? `${form} is not ${what} (${plural} are addresses)` : 'not an address' };
}

/** Classifies a member text: its address, or why it is not a list member. */
export function parseListMember(text: string): ListMember {
  return parseDirectoryTarget(text, 'a list member', 'members');
}
