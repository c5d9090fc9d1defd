/**
 * @module list-names
 * The addresses that go with a mailing list: its owner address (the envelope sender of the
 * copies the list sends out, so bounces reach the owner and never the author) and its List-Id.
 * Convention: `LIST-owner@domain` (Mailman's and the form). The resolver also accepts
 * the older sendmail form `owner-LIST@domain` for the same owner, so either convention works
 * for incoming bounces; explicit aliases or users of those names take precedence.
 * Standards: RFC 2919 §2-3 (List-Id: list-label "." list-id-namespace), RFC 2369 (List-*),
 *   RFC 5321 §3.9.2 (lists: bounces go to the list's owner, not the originator).
 * Security: none. Limitations: no VERP (one owner address per list).
 */

/** "staff@dc.uece.br" → "staff-owner@dc.uece.br" */
export function listOwnerAddress(list: string): string {
  const at = list.lastIndexOf('@');
  if (at < 0) return `${list}-owner`;
  return `${list.slice(0, at)}-owner${list.slice(at)}`;
}

/**
 * The list local part named by an owner local part: "staff-owner" or "owner-staff" → "staff";
 * undefined for anything else.
 */
export function listLocalFromOwner(local: string): string | undefined {
  const l = local.toLowerCase();
  if (l.endsWith('-owner') && l.length > '-owner'.length) return local.slice(0, -'-owner'.length);
  if (l.startsWith('owner-') && l.length > 'owner-'.length) return local.slice('owner-'.length);
  return undefined;
}

/**
 * The RFC 2919 list identifier (without angle brackets): "staff@dc.uece.br" →
 * "staff.dc.uece.br". Characters outside dot-atom-text become "-" (RFC 2919 §2: list-label
 * is a dot-atom-text).
 */
export function listIdFor(list: string): string {
  const at = list.lastIndexOf('@');
  const label = (at < 0 ? list : list.slice(0, at)).toLowerCase().replace(/[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]/g, '-');
  const ns = at < 0 ? 'localhost' : list.slice(at + 1).toLowerCase();
  return `${label.replace(/^\.+|\.+$/g, '').replace(/\.{2,}/g, '.') || 'list'}.${ns}`;
}
